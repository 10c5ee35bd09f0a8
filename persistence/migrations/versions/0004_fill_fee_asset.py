"""fills.fee_asset: the asset a fill's fee was paid in (Binance may take it in BNB)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fills") as batch_op:
        batch_op.add_column(sa.Column("fee_asset", sa.String(12), nullable=False, server_default="USDT"))


def downgrade() -> None:
    with op.batch_alter_table("fills") as batch_op:
        batch_op.drop_column("fee_asset")
