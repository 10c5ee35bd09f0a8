"""A fresh PostgreSQL schema for one run or one test, so that runs sharing a server never see each other's data.

The service is pointed at the schema through its database URL: `options=-csearch_path=<schema>` makes every
connection it opens create and read its tables there.
"""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# The server the tests and the crash test use (scripts/test.sh starts it): trust authentication, database `test`.
LOCAL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def create_schema(url: str, prefix: str = "qt") -> str:
    """Create a schema with a new name in the database at `url`; its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
    finally:
        admin.dispose()
    return name


def in_schema(url: str, schema: str) -> str:
    """The same database URL with `schema` as the search path of every connection."""
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False)


def drop_schema(url: str, schema: str) -> None:
    """Drop the schema and everything in it (the database at `url`, without the schema's search path)."""
    admin = create_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
