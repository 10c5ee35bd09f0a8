"""strategy_faults: a strategy's candles whose output was dropped, and the fault that disabled it

Which strategy produced a signal is already recorded: `signal_decisions.source` holds the strategy's name ("builtin"
for the built-in one, "inbox" for the inbox). What had no place is a strategy's failure: a candle whose output was
dropped because the strategy raised, returned garbage or ran over its budget, and the fault that disabled it.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Millis = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "strategy_faults",
        sa.Column("id", Millis, primary_key=True, autoincrement=True),
        sa.Column("at", Millis, nullable=False),
        sa.Column("strategy", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_strategy_faults_at", "strategy_faults", ["at"])
    op.create_index("ix_strategy_faults_strategy", "strategy_faults", ["strategy"])


def downgrade() -> None:
    op.drop_table("strategy_faults")
