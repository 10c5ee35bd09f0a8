"""heartbeat.prices: the last price of each symbol, so `status` can show unrealised PnL

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("heartbeat") as batch_op:
        batch_op.add_column(sa.Column("prices", sa.Text(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("heartbeat") as batch_op:
        batch_op.drop_column("prices")
