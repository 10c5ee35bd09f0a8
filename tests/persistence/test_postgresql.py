"""The same schema and commit path on PostgreSQL (operators with many accounts run it there)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from persistence.migrate import current_revision, head_revision, upgrade
from persistence.store import Store
from state_machines import gate_machine, position_machine
from tests.conftest import position_values

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    schema = f"qt_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432 (scripts/test.sh starts it): {error.orig}")
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def test_postgresql_upgrade_commit_and_reload(pg_engine: Engine) -> None:
    upgrade(pg_engine)
    assert current_revision(pg_engine) == head_revision()
    store = Store(pg_engine)
    store.ensure_gate(at=1)
    machine = position_machine()
    model = store.create_position(machine, position_values(1), reason="signal", at=2)
    store.fire(machine, model, "submit", reason="sent", at=3)
    loaded = store.load(position_machine(), gate_machine())
    store.close()
    assert loaded.positions["pos-1"].state == "entry_submitted" and loaded.mismatches == ()
    assert loaded.gate is not None and loaded.gate.state == "open"


@pytest.mark.parametrize("statement", ["UPDATE transitions SET reason = 'x'", "DELETE FROM transitions"])
def test_postgresql_transitions_refuse_update_and_delete(pg_engine: Engine, statement: str) -> None:
    upgrade(pg_engine)
    store = Store(pg_engine)
    store.ensure_gate(at=1)
    store.close()
    with pytest.raises(DBAPIError, match="append-only"), pg_engine.begin() as connection:
        connection.execute(text(statement))
