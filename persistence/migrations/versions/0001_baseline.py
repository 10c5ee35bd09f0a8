"""baseline: every table of the first release, and the append-only guard on transitions

Revision ID: 0001
Revises:
Create Date: 2026-11-22 02:26:08.745676
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from persistence.dialect import APPEND_ONLY_DDL, DROP_APPEND_ONLY_DDL

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "equity_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.Integer(), nullable=False),
        sa.Column("equity", sa.String(length=40), nullable=False),
        sa.Column("wallet", sa.String(length=40), nullable=False),
        sa.Column("unrealized_pnl", sa.String(length=40), nullable=False),
        sa.Column("day_start_equity", sa.String(length=40), nullable=False),
        sa.Column("daily_drawdown_pct", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("equity_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_equity_snapshots_at"), ["at"], unique=False)

    op.create_table(
        "exchange_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "gate",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("locked_until", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "heartbeat",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Integer(), nullable=False),
        sa.Column("at", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "operator_commands",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.Integer(), nullable=False),
        sa.Column("command", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("processed_at", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "policy_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.Integer(), nullable=False),
        sa.Column("enforced", sa.Boolean(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("policy_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_snapshots_at"), ["at"], unique=False)

    op.create_table(
        "positions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(length=36), nullable=False),
        sa.Column("quantity", sa.String(length=40), nullable=False),
        sa.Column("filled_quantity", sa.String(length=40), nullable=False),
        sa.Column("entry_price", sa.String(length=40), nullable=True),
        sa.Column("exit_price", sa.String(length=40), nullable=True),
        sa.Column("stop_price", sa.String(length=40), nullable=True),
        sa.Column("take_profit_price", sa.String(length=40), nullable=True),
        sa.Column("realized_pnl", sa.String(length=40), nullable=False),
        sa.Column("fees", sa.String(length=40), nullable=False),
        sa.Column("exit_mode", sa.String(length=24), nullable=False),
        sa.Column("signal_id", sa.String(length=64), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.Integer(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_order_id"),
    )
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_positions_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_positions_symbol"), ["symbol"], unique=False)

    op.create_table(
        "signal_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("signal_id", sa.String(length=96), nullable=False),
        sa.Column("at", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("position_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("signal_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signal_decisions_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_signal_decisions_reason"), ["reason"], unique=False)
        batch_op.create_index(batch_op.f("ix_signal_decisions_signal_id"), ["signal_id"], unique=False)

    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("machine", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("dest", sa.String(length=24), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("machine", "entity_id", "seq", name="uq_transitions_entity_seq"),
    )
    with op.batch_alter_table("transitions", schema=None) as batch_op:
        batch_op.create_index("ix_transitions_at", ["at"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("position_id", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=36), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=64), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("quantity", sa.String(length=40), nullable=False),
        sa.Column("trigger_price", sa.String(length=40), nullable=True),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("filled_quantity", sa.String(length=40), nullable=False),
        sa.Column("average_price", sa.String(length=40), nullable=True),
        sa.Column("reject_code", sa.Integer(), nullable=True),
        sa.Column("reject_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["position_id"],
            ["positions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_order_id"),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_position_id"), ["position_id"], unique=False)

    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("trade_id", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.String(length=40), nullable=False),
        sa.Column("price", sa.String(length=40), nullable=False),
        sa.Column("fee", sa.String(length=40), nullable=False),
        sa.Column("realized_pnl", sa.String(length=40), nullable=False),
        sa.Column("at", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("trade_id"),
    )
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fills_order_id"), ["order_id"], unique=False)

    for statement in APPEND_ONLY_DDL[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_APPEND_ONLY_DDL[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fills_order_id"))

    op.drop_table("fills")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_position_id"))

    op.drop_table("orders")
    with op.batch_alter_table("transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_transitions_at")

    op.drop_table("transitions")
    with op.batch_alter_table("signal_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signal_decisions_signal_id"))
        batch_op.drop_index(batch_op.f("ix_signal_decisions_reason"))
        batch_op.drop_index(batch_op.f("ix_signal_decisions_at"))

    op.drop_table("signal_decisions")
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_positions_symbol"))
        batch_op.drop_index(batch_op.f("ix_positions_state"))

    op.drop_table("positions")
    with op.batch_alter_table("policy_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_snapshots_at"))

    op.drop_table("policy_snapshots")
    op.drop_table("operator_commands")
    op.drop_table("heartbeat")
    op.drop_table("gate")
    op.drop_table("exchange_state")
    with op.batch_alter_table("equity_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_equity_snapshots_at"))

    op.drop_table("equity_snapshots")
