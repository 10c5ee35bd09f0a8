"""64-bit times and row ids: a time in epoch milliseconds does not fit a 32-bit INTEGER

Every time column (epoch milliseconds) and every row id (and `fills.order_id`, which points at one) becomes
BIGINT, and each id's sequence counts to 2^63 - 1. PostgreSQL refused a real time in the 32-bit columns
(`integer out of range`); SQLite took it because SQLite stores every integer in up to 8 bytes whatever the
column's declared type says.

On SQLite this revision is therefore a no-op: its columns already hold 64-bit values, `INTEGER` and `BIGINT`
have the same (integer) affinity there, and a row id must stay declared exactly `INTEGER PRIMARY KEY` to remain
the rowid that numbers new rows. Rebuilding the tables in batch mode to change only the declared name would
also drop the append-only triggers on `transitions`. The models declare the same (`Millis`, `RowId` in
persistence/models.py: BIGINT, with SQLite's INTEGER as its variant), so a new database matches a migrated
one on both. The effect is the same on both dialects: every such column holds any 64-bit integer.

`service_state.updated_at` is BIGINT since 0003. Counters (`seq`), `heartbeat.pid` and `orders.reject_code`
stay 32-bit: none comes near 2^31.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# (table, column, nullable)
TIMES: tuple[tuple[str, str, bool], ...] = (
    ("equity_snapshots", "at", False),
    ("exchange_state", "updated_at", False),
    ("gate", "locked_until", True),
    ("gate", "updated_at", False),
    ("heartbeat", "started_at", False),
    ("heartbeat", "at", False),
    ("operator_commands", "at", False),
    ("operator_commands", "processed_at", True),
    ("policy_snapshots", "at", False),
    ("positions", "created_at", False),
    ("positions", "opened_at", True),
    ("positions", "closed_at", True),
    ("signal_decisions", "at", False),
    ("transitions", "at", False),
    ("orders", "created_at", False),
    ("orders", "updated_at", False),
    ("fills", "at", False),
)
ROW_IDS: tuple[str, ...] = (
    "equity_snapshots",
    "operator_commands",
    "policy_snapshots",
    "signal_decisions",
    "transitions",
    "orders",
    "fills",
)
REFERENCES: tuple[tuple[str, str, bool], ...] = (("fills", "order_id", False),)


def upgrade() -> None:
    _retype(sa.Integer(), sa.BigInteger(), "bigint")


def downgrade() -> None:
    # Fails (integer out of range) on PostgreSQL once a value no longer fits: narrowing would lose it.
    _retype(sa.BigInteger(), sa.Integer(), "integer")


def _retype(old: sa.types.TypeEngine[int], new: sa.types.TypeEngine[int], sequence_type: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return
    columns = (*TIMES, *((table, "id", False) for table in ROW_IDS), *REFERENCES)
    for table, column, nullable in columns:
        op.alter_column(table, column, type_=new, existing_type=old, existing_nullable=nullable)
    for table in ROW_IDS:
        sequence = bind.execute(sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table}).scalar()
        assert sequence is not None, f"{table}.id has no sequence"
        op.execute(f"ALTER SEQUENCE {sequence} AS {sequence_type}")
