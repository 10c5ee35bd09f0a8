"""Everything that differs between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event

SQLITE_BUSY_TIMEOUT_MS = 5_000

# The database itself refuses to rewrite history: UPDATE and DELETE on transitions fail.
APPEND_ONLY_DDL: dict[str, tuple[str, ...]] = {
    "sqlite": (
        (
            "CREATE TRIGGER transitions_no_update BEFORE UPDATE ON transitions "
            "BEGIN SELECT RAISE(ABORT, 'transitions is append-only'); END"
        ),
        (
            "CREATE TRIGGER transitions_no_delete BEFORE DELETE ON transitions "
            "BEGIN SELECT RAISE(ABORT, 'transitions is append-only'); END"
        ),
    ),
    "postgresql": (
        (
            "CREATE OR REPLACE FUNCTION transitions_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'transitions is append-only'; END; $$ LANGUAGE plpgsql"
        ),
        (
            "CREATE TRIGGER transitions_no_update BEFORE UPDATE OR DELETE ON transitions "
            "FOR EACH ROW EXECUTE FUNCTION transitions_append_only()"
        ),
    ),
}

DROP_APPEND_ONLY_DDL: dict[str, tuple[str, ...]] = {
    "sqlite": ("DROP TRIGGER IF EXISTS transitions_no_update", "DROP TRIGGER IF EXISTS transitions_no_delete"),
    "postgresql": (
        "DROP TRIGGER IF EXISTS transitions_no_update ON transitions",
        "DROP FUNCTION IF EXISTS transitions_append_only()",
    ),
}


def install_sqlite_pragmas(engine: Engine, *, read_only: bool, synchronous: str = "FULL") -> None:
    """Foreign keys, WAL and durable commits on every pooled connection."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if not read_only:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()
