"""Engines: the writer's (WAL, synchronous=FULL) and the inspector's (read-only, never creates a file)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.pool import NullPool

from persistence.dialect import install_sqlite_pragmas

SQLITE_HEADER = b"SQLite format 3\x00"
REQUIRED_TABLES = frozenset({"positions", "transitions", "gate", "alembic_version"})


class DatabaseUnavailable(Exception):
    """The database cannot be used as asked: missing, foreign, or not migrated."""


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path)}"


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def check_sqlite_directory(url: str) -> None:
    """Raises `DatabaseUnavailable` when a SQLite file cannot be made where the URL says (no such directory)."""
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise DatabaseUnavailable(
            f"{path.parent}: no such directory, so the database file {path.name} cannot be made there"
        )


def make_engine(url: str, *, synchronous: str = "FULL") -> Engine:
    """The writer's engine. SQLite files are created on first use."""
    path = sqlite_path(url)
    if path is not None:
        engine = create_engine(url, connect_args={"check_same_thread": False})
        install_sqlite_pragmas(engine, read_only=False, synchronous=synchronous)
        return engine
    return create_engine(url, pool_pre_ping=True)


def create_schema(url: str) -> str | None:
    """On PostgreSQL, create the schema the URL's `search_path` names first if it does not exist yet (an account's:
    config/accounts.py), before anything locks or migrates it; its name, or None when there was nothing to create.

    Before it exists the server's `current_schema()` is NULL, for this schema and every other missing one alike."""
    if sqlite_path(url) is not None or make_url(url).get_backend_name() != "postgresql":
        return None
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            schema = missing_schema(connection)
            if schema is not None:
                quoted = connection.dialect.identifier_preparer.quote_identifier(schema)
                connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
    finally:
        engine.dispose()
    return schema


def missing_schema(connection: Connection) -> str | None:
    """The schema a PostgreSQL connection's `search_path` names first, if it does not exist (`"$user"` aside)."""
    if connection.execute(text("SELECT current_schema()")).scalar() is not None:
        return None
    first = str(connection.execute(text("SELECT current_setting('search_path')")).scalar_one()).split(",")[0].strip()
    if first.startswith('"'):
        first = first[1:-1].replace('""', '"')
    return first if first and first != "$user" else None


def open_read_only(url: str) -> Engine:
    """An engine that can only read: no file is created, no write lock is taken.

    Works beside a running service: WAL readers never block the writer. Not for the service's own process: it
    checks a SQLite file by opening it outside SQLite, and closing any descriptor of it drops every POSIX lock the
    process's SQLite connections hold on it (SQLite's "how to corrupt a database", 2.2); the service's HTTP server
    reads from a process of its own.
    """
    path = sqlite_path(url)
    if path is None:
        engine = create_engine(url, execution_options={"postgresql_readonly": True})
    else:
        _check_sqlite_file(path)
        uri = f"file:{path.resolve()}?mode=ro"
        engine = create_engine("sqlite://", creator=lambda: _sqlite_ro_connect(uri))
        install_sqlite_pragmas(engine, read_only=True)
    _check_schema(engine, url)
    return engine


def _sqlite_ro_connect(uri: str) -> sqlite3.Connection:
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def _check_sqlite_file(path: Path) -> None:
    if not path.exists():
        raise DatabaseUnavailable(
            f"{path}: no such database file (start the service or run `quantum-trader db upgrade` first)"
        )
    if path.is_dir():
        raise DatabaseUnavailable(f"{path}: is a directory, not a database file")
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise DatabaseUnavailable(f"{path}: not a SQLite database")


def _check_schema(engine: Engine, url: str) -> None:
    try:
        with engine.connect() as connection:
            schema = missing_schema(connection) if connection.dialect.name == "postgresql" else None
            tables = set(inspect(connection).get_table_names())
    except (OperationalError, DatabaseError) as error:
        raise DatabaseUnavailable(
            f"{make_url(url).render_as_string(hide_password=True)}: cannot be read: {error.orig}"
        ) from None
    if schema is not None:
        raise DatabaseUnavailable(
            f"{make_url(url).render_as_string(hide_password=True)}: no schema {schema!r} in this database "
            "(an account's is made by `quantum-trader db upgrade --account NAME` or by the service's start)"
        )
    missing = REQUIRED_TABLES - tables
    if missing:
        raise DatabaseUnavailable(
            f"{make_url(url).render_as_string(hide_password=True)}: not a Quantum Trader database "
            f"(missing tables: {', '.join(sorted(missing))})"
        )
