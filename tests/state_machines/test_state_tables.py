"""Every (state, trigger) pair of both machines against the declarative tables."""

from __future__ import annotations

import pytest

from state_machines import (
    GATE_TABLE,
    POSITION_TABLE,
    GateModel,
    GateState,
    PositionModel,
    PositionState,
    TransitionNotAllowed,
    gate_machine,
    position_machine,
)

# The documented edges, written out independently of the tables so a changed table fails here.
POSITION_EDGES = {
    ("pending_entry", "submit"): "entry_submitted",
    ("pending_entry", "cancel"): "cancelled",
    ("pending_entry", "reject"): "rejected",
    ("pending_entry", "outcome_unknown"): "unknown",
    ("pending_entry", "adopt"): "open",
    ("entry_submitted", "entry_filled"): "open",
    ("entry_submitted", "reject"): "rejected",
    ("entry_submitted", "cancel"): "cancelled",
    ("entry_submitted", "outcome_unknown"): "unknown",
    ("entry_submitted", "reconcile"): "closed",
    ("unknown", "entry_filled"): "open",
    ("unknown", "reject"): "rejected",
    ("unknown", "cancel"): "cancelled",
    ("unknown", "reconcile"): "closed",
    ("cancelled", "entry_filled"): "open",
    ("open", "partial_take_profit"): "partially_closed",
    ("open", "close"): "closing",
    ("open", "exit_filled"): "closed",
    ("open", "reconcile"): "closed",
    ("open", "reduce"): "open",
    ("partially_closed", "reduce"): "partially_closed",
    ("open", "change_exit_mode"): "open",
    ("partially_closed", "close"): "closing",
    ("partially_closed", "exit_filled"): "closed",
    ("partially_closed", "reconcile"): "closed",
    ("partially_closed", "change_exit_mode"): "partially_closed",
    ("closing", "exit_filled"): "closed",
    ("closing", "exit_failed"): "open",
    ("closing", "reconcile"): "closed",
    ("closing", "reduce"): "closing",
}

GATE_EDGES = {
    ("open", "pause"): "paused",
    ("paused", "pause"): "paused",
    ("paused", "clear"): "open",
    ("open", "lock"): "locked",
    ("paused", "lock"): "locked",
    ("locked", "unlock"): "open",
    ("open", "halt"): "halted",
    ("paused", "halt"): "halted",
    ("locked", "halt"): "halted",
    ("halted", "resume"): "open",
}

POSITION_PAIRS = [(s, t) for s in POSITION_TABLE.states for t in POSITION_TABLE.triggers]
GATE_PAIRS = [(s, t) for s in GATE_TABLE.states for t in GATE_TABLE.triggers]


def test_position_table_matches_documented_edges() -> None:
    table = {(e.source, e.trigger): e.dest for e in POSITION_TABLE.edges}
    assert table == POSITION_EDGES


def test_gate_table_matches_documented_edges() -> None:
    table = {(e.source, e.trigger): e.dest for e in GATE_TABLE.edges}
    assert table == GATE_EDGES


@pytest.mark.parametrize(("state", "trigger"), POSITION_PAIRS)
def test_position_machine_each_state_trigger_pair_moves_or_raises(state: str, trigger: str) -> None:
    machine = position_machine()
    model = PositionModel("pos-1", seq=4)
    machine.add([model], state)
    expected = POSITION_EDGES.get((state, trigger))
    if expected is None:
        with pytest.raises(TransitionNotAllowed) as raised:
            machine.fire(model, trigger, reason="because", at=1)
        assert (raised.value.entity_id, raised.value.state, raised.value.trigger) == ("pos-1", state, trigger)
        assert "pos-1" in str(raised.value) and state in str(raised.value) and trigger in str(raised.value)
        assert (model.state, model.seq, model.pending) == (state, 4, None)
    else:
        record = machine.fire(model, trigger, reason="because", at=1, price="1")
        assert model.state == expected
        assert (record.source, record.dest, record.trigger, record.seq) == (state, expected, trigger, 5)
        assert record.payload == {"price": "1"}


@pytest.mark.parametrize(("state", "trigger"), GATE_PAIRS)
def test_gate_machine_each_state_trigger_pair_moves_or_raises(state: str, trigger: str) -> None:
    machine = gate_machine()
    model = GateModel(seq=2, reason="r", locked_until=1_000)
    machine.add([model], state)
    expected = GATE_EDGES.get((state, trigger))
    if expected is None:
        with pytest.raises(TransitionNotAllowed) as raised:
            machine.fire(model, trigger, reason="because", at=2_000, locked_until=5_000)
        assert (raised.value.entity_id, raised.value.state, raised.value.trigger) == ("global", state, trigger)
        assert model.state == state
    else:
        record = machine.fire(model, trigger, reason="because", at=2_000, locked_until=5_000)
        assert model.state == expected
        assert (record.source, record.dest, record.seq) == (state, expected, 3)


@pytest.mark.parametrize("source", ["open", "partially_closed", "closing", "unknown", "entry_submitted"])
def test_position_reconcile_without_reason_is_refused(source: str) -> None:
    machine = position_machine()
    model = PositionModel("pos-9")
    machine.add([model], source)
    with pytest.raises(TransitionNotAllowed, match="guard has_reason"):
        machine.fire(model, "reconcile", reason="  ", at=1)
    assert model.state == source


@pytest.mark.parametrize("source", ["open", "partially_closed"])
def test_position_change_exit_mode_without_reason_is_refused(source: str) -> None:
    machine = position_machine()
    model = PositionModel("pos-9")
    machine.add([model], source)
    with pytest.raises(TransitionNotAllowed, match="guard has_reason"):
        machine.fire(model, "change_exit_mode", reason="", at=1)
    assert (model.state, model.seq) == (source, 0)


def test_gate_unlock_before_lock_end_is_refused() -> None:
    machine = gate_machine()
    model = GateModel(seq=1, reason="daily drawdown", locked_until=86_400_000)
    machine.add([model], GateState.LOCKED)
    with pytest.raises(TransitionNotAllowed, match="lock_expired"):
        machine.fire(model, "unlock", reason="new day", at=86_399_999)
    assert model.state == GateState.LOCKED
    machine.fire(model, "unlock", reason="new day", at=86_400_000)
    assert model.state == GateState.OPEN


def test_gate_lock_without_end_time_is_refused() -> None:
    machine = gate_machine()
    model = GateModel()
    machine.add([model], GateState.OPEN)
    with pytest.raises(TransitionNotAllowed):
        machine.fire(model, "lock", reason="daily drawdown", at=1)
    assert model.state == GateState.OPEN


def test_position_final_states_have_no_way_out_but_the_cancel_race() -> None:
    leaving = {e.source for e in POSITION_TABLE.edges}
    assert leaving & POSITION_TABLE.final == {PositionState.CANCELLED}
