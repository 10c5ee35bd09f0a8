"""service_state: small pieces of the service's own state that must survive a restart

The inbox cursor (with the file's identity), an exchange ban's end, the client-id salt.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import json
import secrets
import string

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "service_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    # The client-id salt, created with the database: a new database never names an order as an old one did. A
    # database that already sent orders keeps its ids (an empty salt): its orders may rest on the exchange.
    sent_before = op.get_bind().execute(sa.text("SELECT 1 FROM orders LIMIT 1")).first() is not None
    salt = "" if sent_before else "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(4))
    op.bulk_insert(table, [{"name": "client-id-salt", "value": json.dumps(salt), "updated_at": 0}])


def downgrade() -> None:
    op.drop_table("service_state")
