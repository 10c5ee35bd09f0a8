"""The commit path: state and transition in one transaction, lost updates caught, failures undone."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from persistence import records
from persistence.loading import load_machines
from persistence.store import StaleState, Store
from persistence.tables import POSITIONS, TRANSITIONS
from state_machines import GateState, gate_machine, position_machine
from tests.conftest import position_values


def _row_state(engine: Engine, position_id: str) -> tuple[str, int]:
    with engine.connect() as connection:
        row = connection.execute(select(POSITIONS.c.state, POSITIONS.c.seq).where(POSITIONS.c.id == position_id)).one()
    return row.state, row.seq


def _transition_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(TRANSITIONS)).scalar_one()


def test_store_fire_commits_state_and_transition_together(store: Store, engine: Engine) -> None:
    machine = position_machine()
    model = store.create_position(machine, position_values(1), reason="signal BTCUSDT-1", at=10)
    record = store.fire(machine, model, "submit", reason="sent", at=11, client_order_id="qt-e-1")
    assert _row_state(engine, "pos-1") == ("entry_submitted", 2)
    with engine.connect() as connection:
        rows = connection.execute(select(TRANSITIONS).order_by(TRANSITIONS.c.seq)).mappings().all()
    assert [(r["seq"], r["source"], r["dest"], r["trigger"]) for r in rows] == [
        (1, "", "pending_entry", "create"),
        (2, "pending_entry", "entry_submitted", "submit"),
    ]
    assert rows[1]["payload"] == '{"client_order_id":"qt-e-1"}'
    assert record.seq == 2


def test_store_fire_on_stale_sequence_raises_and_leaves_both_sides_unchanged(store: Store, engine: Engine) -> None:
    machine = position_machine()
    model = store.create_position(machine, position_values(1), reason="signal", at=10)
    with engine.begin() as other_writer:  # another writer moved the row on behind this model's back
        other_writer.execute(text("UPDATE positions SET seq = 7 WHERE id = 'pos-1'"))
    before = _transition_count(engine)
    with pytest.raises(StaleState, match="pos-1"):
        store.fire(machine, model, "submit", reason="sent", at=11)
    assert (model.state, model.seq) == ("pending_entry", 1)
    assert _row_state(engine, "pos-1") == ("pending_entry", 7)
    assert _transition_count(engine) == before


def test_store_fire_on_read_only_database_raises_and_restores_previous_state(store: Store, engine: Engine) -> None:
    machine = position_machine()
    model = store.create_position(machine, position_values(1), reason="signal", at=10)
    store.fire(machine, model, "submit", reason="sent", at=11)
    store.connection.exec_driver_sql("PRAGMA query_only=ON")
    store.connection.commit()
    with pytest.raises(OperationalError, match="readonly"):
        store.fire(machine, model, "entry_filled", reason="filled", at=12)
    assert (model.state, model.seq, model.pending) == ("entry_submitted", 2, None)
    assert _row_state(engine, "pos-1") == ("entry_submitted", 2)
    assert _transition_count(engine) == 2
    store.connection.exec_driver_sql("PRAGMA query_only=OFF")
    store.connection.commit()
    store.fire(machine, model, "entry_filled", reason="filled", at=12)
    assert _row_state(engine, "pos-1") == ("open", 3)


def test_store_fire_failing_extra_write_rolls_back_everything(store: Store, engine: Engine) -> None:
    machine = position_machine()
    first = store.create_position(machine, position_values(1), reason="signal", at=10)
    store.create_position(machine, position_values(2), reason="signal", at=10)

    def duplicate_client_id(connection) -> None:  # type: ignore[no-untyped-def]
        connection.execute(POSITIONS.update().where(POSITIONS.c.id == "pos-1").values(client_order_id="qt-e-2"))

    with pytest.raises(IntegrityError):
        store.fire(machine, first, "submit", reason="sent", at=11, also=duplicate_client_id)
    assert (first.state, first.seq) == ("pending_entry", 1)
    assert _row_state(engine, "pos-1") == ("pending_entry", 1)
    assert _transition_count(engine) == 2


def test_gate_lock_persists_reason_and_end_and_survives_reload(store: Store, engine: Engine) -> None:
    machines = (position_machine(), gate_machine())
    store.ensure_gate(at=1)
    gate = store.load(*machines).gate
    assert gate is not None and gate.state == GateState.OPEN
    store.fire(machines[1], gate, "lock", reason="daily drawdown -2.60%", at=5, locked_until=86_400_000)
    reloaded = load_machines(engine.connect(), position_machine(), gate_machine())
    assert reloaded.gate is not None
    assert (reloaded.gate.state, reloaded.gate.reason, reloaded.gate.locked_until) == (
        "locked",
        "daily drawdown -2.60%",
        86_400_000,
    )
    assert reloaded.mismatches == ()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE transitions SET reason = 'rewritten'",
        "DELETE FROM transitions",
    ],
)
def test_transitions_table_refuses_update_and_delete(store: Store, engine: Engine, statement: str) -> None:
    store.ensure_gate(at=1)
    with pytest.raises(IntegrityError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))
    assert _transition_count(engine) == 1


def test_load_machines_reports_row_that_disagrees_with_its_last_transition(store: Store, engine: Engine) -> None:
    machine = position_machine()
    store.create_position(machine, position_values(1), reason="signal", at=10)
    store.create_position(machine, position_values(2), reason="signal", at=10)
    with engine.begin() as connection:  # a row edited by hand, outside the commit path
        connection.execute(text("UPDATE positions SET state = 'open' WHERE id = 'pos-2'"))
    loaded = load_machines(engine.connect(), position_machine(), gate_machine())
    assert [m.entity_id for m in loaded.mismatches] == ["pos-2"]
    assert "pos-2" in loaded.mismatches[0].describe() and "pending_entry" in loaded.mismatches[0].describe()
    assert loaded.positions["pos-2"].state == "open"  # reported, not silently fixed


def _decision(signal_id: str, reason: str) -> dict[str, object]:
    return dict(
        signal_id=signal_id,
        at=1,
        symbol="BTCUSDT",
        side="LONG",
        confidence=0.8,
        source="inbox",
        reason=reason,
        detail="",
        position_id=None,
    )


def test_signal_decisions_of_an_observed_row_alone_is_no_decision(engine: Engine) -> None:
    """OBSERVE writes its would-be row before the enforced decision; a signal with only that row lost its step."""
    with engine.begin() as connection:
        records.insert_decisions(
            connection,
            [_decision("lost", "OBSERVED"), _decision("done", "OBSERVED"), _decision("done", "ACCEPTED")],
        )
        assert records.signal_decisions_of(connection, ["lost", "done", "never"]) == {"done": "ACCEPTED"}


def test_lookups_by_id_answer_one_id_as_they_answer_it_among_many(store: Store, engine: Engine) -> None:
    """One id takes its own statement (an equality, not an IN list): its answer is the same."""
    machine = position_machine()
    store.create_position(machine, position_values(1), reason="signal", at=10)
    with engine.begin() as connection:
        records.insert_decisions(
            connection,
            [_decision("lost", "OBSERVED"), _decision("done", "ACCEPTED"), _decision("done", "BLOCKED_BY_GATE")],
        )
        decisions = records.signal_decisions_of(connection, ["lost", "done", "never"])
        states = records.position_states_of(connection, ["pos-1", "pos-9"])
        assert decisions == {"done": "ACCEPTED"} and states == {"pos-1": "pending_entry"}
        for signal_id in ("lost", "done", "never"):
            expected = {signal_id: decisions[signal_id]} if signal_id in decisions else {}
            assert records.signal_decisions_of(connection, [signal_id, signal_id]) == expected
        assert records.position_states_of(connection, ["pos-1"]) == {"pos-1": "pending_entry"}
        assert records.position_states_of(connection, ["pos-9"]) == {}
