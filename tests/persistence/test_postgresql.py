"""The same schema and commit path on PostgreSQL (operators with many accounts run it there)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import BigInteger, Connection, Engine, create_engine, select, text
from sqlalchemy.exc import DBAPIError

from persistence import records
from persistence.migrate import current_revision, downgrade, head_revision, upgrade
from persistence.models import Base
from persistence.store import Store
from persistence.tables import FILLS, GATE, HEARTBEAT, OPERATOR_COMMANDS, ORDERS, POSITIONS, TRANSITIONS
from state_machines import gate_machine, position_machine
from tests.conftest import position_values

NOW_MS = 1_795_000_000_000  # November 2026, in epoch milliseconds: far past 2^31
PAST_INT32 = 2**31 + 7
WIDE_COLUMNS = sorted(
    (table.name, column.name)
    for table in Base.metadata.tables.values()
    for column in table.columns
    if isinstance(column.type, BigInteger)
)


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


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


def test_postgresql_models_match_migrated_schema(pg_engine: Engine) -> None:
    upgrade(pg_engine)
    with pg_engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def _column_types(connection: Connection) -> dict[tuple[str, str], str]:
    rows = connection.execute(
        text(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        )
    )
    return {(table, column): data_type for table, column, data_type in rows}


def _sequence_types(connection: Connection) -> set[str]:
    rows = connection.execute(
        text("SELECT data_type FROM information_schema.sequences WHERE sequence_schema = current_schema()")
    )
    return {data_type for (data_type,) in rows}


def test_postgresql_baseline_refuses_real_times_and_the_upgrade_widens_them_keeping_rows(pg_engine: Engine) -> None:
    upgrade(pg_engine, "0001")
    with pytest.raises(DBAPIError, match="out of range"), pg_engine.begin() as connection:
        connection.execute(
            text(f"INSERT INTO heartbeat (id, pid, started_at, at, version) VALUES ('x', 1, 1, {NOW_MS}, 'v')")
        )
    with pg_engine.begin() as connection:  # the rows a baseline database on PostgreSQL could hold
        connection.execute(
            text("INSERT INTO heartbeat (id, pid, started_at, at, version) VALUES ('service', 42, 1, 2, 'v')")
        )
        connection.execute(
            text(
                "INSERT INTO transitions (machine, entity_id, seq, source, dest, trigger, reason, payload, at) "
                "VALUES ('gate', 'global', 1, '', 'open', 'create', 'first start', '{}', 1)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO gate (id, state, seq, reason, locked_until, updated_at) "
                "VALUES ('global', 'open', 1, '', 5, 1)"
            )
        )
        connection.execute(text("INSERT INTO operator_commands (at, command, reason) VALUES (3, 'halt', 'why')"))
    with pg_engine.connect() as connection:
        baseline = _column_types(connection)  # the tables of revision 0001 (later ones are made 64-bit)
        assert {baseline[key] for key in WIDE_COLUMNS if key in baseline and key[0] != "service_state"} == {"integer"}

    upgrade(pg_engine)

    with pg_engine.begin() as connection:
        types = _column_types(connection)
        assert {key: types[key] for key in WIDE_COLUMNS} == dict.fromkeys(WIDE_COLUMNS, "bigint")
        assert _sequence_types(connection) == {"bigint"}
        assert connection.execute(select(HEARTBEAT.c.pid, HEARTBEAT.c.at, HEARTBEAT.c.prices)).one() == (42, 2, "{}")
        assert connection.execute(select(TRANSITIONS.c.id, TRANSITIONS.c.reason, TRANSITIONS.c.at)).all() == [
            (1, "first start", 1)
        ]
        assert connection.execute(select(GATE.c.locked_until, GATE.c.updated_at)).one() == (5, 1)
        assert connection.execute(select(OPERATOR_COMMANDS.c.id, OPERATOR_COMMANDS.c.at)).one() == (1, 3)
        connection.execute(HEARTBEAT.update().values(started_at=NOW_MS, at=NOW_MS + 1))
        connection.execute(GATE.update().values(locked_until=NOW_MS, updated_at=NOW_MS))
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence('operator_commands', 'id'), :n)"), {"n": PAST_INT32}
        )
        command_id = records.add_operator_command(connection, command="resume", reason="why", at=NOW_MS)
    assert command_id == PAST_INT32 + 1
    with pg_engine.connect() as connection:
        assert connection.execute(select(HEARTBEAT.c.started_at, HEARTBEAT.c.at)).one() == (NOW_MS, NOW_MS + 1)
        assert connection.execute(select(GATE.c.locked_until)).scalar() == NOW_MS


def test_postgresql_commit_path_with_real_times_and_ids_past_32_bits(pg_engine: Engine) -> None:
    upgrade(pg_engine)
    with pg_engine.begin() as connection:
        for table in ("transitions", "orders", "fills"):
            connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {PAST_INT32})"))
    store = Store(pg_engine)
    store.ensure_gate(at=NOW_MS)
    machine = position_machine()
    model = store.create_position(machine, position_values(1), reason="signal", at=NOW_MS + 1)

    def send_entry(connection: Connection) -> None:
        records.insert_order(
            connection,
            position_id="pos-1",
            client_order_id="qt-e-1",
            purpose="entry",
            side="BUY",
            type="MARKET",
            quantity=Decimal("0.010"),
            trigger_price=None,
            reduce_only=False,
            status="NEW",
            created_at=NOW_MS + 2,
            updated_at=NOW_MS + 2,
        )

    def fill_entry(connection: Connection) -> None:
        records.insert_fill(
            connection,
            client_order_id="qt-e-1",
            trade_id="t-1",
            quantity=Decimal("0.010"),
            price=Decimal("90000"),
            fee=Decimal("0.36"),
            realized_pnl=Decimal("0"),
            at=NOW_MS + 3,
        )

    store.fire(machine, model, "submit", reason="sent", at=NOW_MS + 2, also=send_entry)
    store.fire(
        machine,
        model,
        "entry_filled",
        reason="filled",
        at=NOW_MS + 3,
        changes={"opened_at": NOW_MS + 3},
        also=fill_entry,
    )
    store.write(
        lambda connection: records.beat(
            connection, pid=7, started_at=NOW_MS, at=NOW_MS + 4, version="v", prices={"BTCUSDT": "90000"}
        )
    )
    loaded = store.load(position_machine(), gate_machine())
    store.close()
    assert loaded.positions["pos-1"].state == "open" and loaded.mismatches == ()
    with pg_engine.connect() as connection:
        assert connection.execute(select(POSITIONS.c.created_at, POSITIONS.c.opened_at)).one() == (
            NOW_MS + 1,
            NOW_MS + 3,
        )
        order_id, order_at = connection.execute(select(ORDERS.c.id, ORDERS.c.created_at)).one()
        assert (order_id, order_at) == (PAST_INT32 + 1, NOW_MS + 2)
        assert connection.execute(select(FILLS.c.id, FILLS.c.order_id, FILLS.c.at)).one() == (
            PAST_INT32 + 1,
            order_id,
            NOW_MS + 3,
        )
        transitions = connection.execute(select(TRANSITIONS.c.id, TRANSITIONS.c.at).order_by(TRANSITIONS.c.id)).all()
        assert transitions == [(PAST_INT32 + n, NOW_MS + n - 1) for n in range(1, 5)]
        assert connection.execute(select(HEARTBEAT.c.at)).scalar() == NOW_MS + 4


def test_postgresql_downgrade_narrows_back_and_refuses_to_lose_a_real_time(pg_engine: Engine) -> None:
    upgrade(pg_engine)
    with pg_engine.begin() as connection:
        connection.execute(text("INSERT INTO operator_commands (at, command, reason) VALUES (3, 'halt', 'why')"))
    downgrade(pg_engine, "0004")
    with pg_engine.connect() as connection:
        baseline = _column_types(connection)  # the tables of revision 0001 (later ones are made 64-bit)
        assert {baseline[key] for key in WIDE_COLUMNS if key in baseline and key[0] != "service_state"} == {"integer"}
        assert _sequence_types(connection) == {"integer"}
    upgrade(pg_engine)
    with pg_engine.begin() as connection:
        connection.execute(text(f"UPDATE operator_commands SET processed_at = {NOW_MS}"))
    with pytest.raises(DBAPIError, match="out of range"):
        downgrade(pg_engine, "0004")
    assert current_revision(pg_engine) == head_revision()
    with pg_engine.connect() as connection:
        assert connection.execute(select(OPERATOR_COMMANDS.c.at, OPERATOR_COMMANDS.c.processed_at)).one() == (3, NOW_MS)
