"""account_lease and lease_standbys: one trader per account, with a fencing token; the database's own id

`account_lease` holds, per account key, who trades it (host, pid, instance id), since when, renewed when and until
when, and the fencing token that grows with every new owner. Every commit of the service checks the token it holds
(persistence/lease.py), so an owner that lost the lease writes nothing more. `lease_standbys` lists the processes
waiting to take over, for `status`. `transitions.lease_token` records which owner wrote each transition.

The database's own id (`service_state` row `database-id`) names a paper account, which lives in its database.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import json
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Millis = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "account_lease",
        sa.Column("account_key", sa.String(200), primary_key=True),
        sa.Column("token", Millis, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("acquired_at", Millis, nullable=False),
        sa.Column("renewed_at", Millis, nullable=False),
        sa.Column("expires_at", Millis, nullable=False),
    )
    op.create_table(
        "lease_standbys",
        sa.Column("instance", sa.String(64), primary_key=True),
        sa.Column("account_key", sa.String(200), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("since", Millis, nullable=False),
        sa.Column("seen_at", Millis, nullable=False),
    )
    op.add_column("transitions", sa.Column("lease_token", Millis, nullable=True))
    service_state = sa.table("service_state", sa.column("name"), sa.column("value"), sa.column("updated_at"))
    op.bulk_insert(service_state, [{"name": "database-id", "value": json.dumps(uuid.uuid4().hex), "updated_at": 0}])


def downgrade() -> None:
    op.execute("DELETE FROM service_state WHERE name = 'database-id'")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a column without rebuilding the table, which would drop its append-only triggers;
        # SQLite 3.35+ drops it in place.
        op.execute("ALTER TABLE transitions DROP COLUMN lease_token")
    else:
        op.drop_column("transitions", "lease_token")
    op.drop_table("lease_standbys")
    op.drop_table("account_lease")
