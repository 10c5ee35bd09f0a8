"""Rebuilding the machines after a restart, from the entity rows (not by replaying the audit log)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, select

from persistence.tables import GATE, POSITIONS, TRANSITIONS
from state_machines import POSITION_TABLE, GateModel, PositionModel, StateMachine


@dataclass(frozen=True, slots=True)
class Mismatch:
    """An entity whose row disagrees with its own audit trail; reported, never silently fixed."""

    machine: str
    entity_id: str
    state: str
    seq: int
    last_transition_dest: str | None
    last_transition_seq: int | None

    def describe(self) -> str:
        if self.last_transition_dest is None:
            return f"{self.machine} {self.entity_id}: state {self.state!r} has no transition recorded"
        return (
            f"{self.machine} {self.entity_id}: state {self.state!r} (seq {self.seq}) but the last transition "
            f"goes to {self.last_transition_dest!r} (seq {self.last_transition_seq})"
        )


@dataclass(frozen=True, slots=True)
class Loaded:
    positions: dict[str, PositionModel]
    gate: GateModel | None
    mismatches: tuple[Mismatch, ...]


def load_machines(connection: Connection, positions: StateMachine, gate: StateMachine) -> Loaded:
    """Attach a model for every non-final position and the gate, and check each against its last transition."""
    rows = _entities_with_last_transition(connection, "position")
    by_state: dict[str, list[PositionModel]] = defaultdict(list)
    loaded: dict[str, PositionModel] = {}
    mismatches = []
    for entity_id, state, seq, dest, last_seq in rows:
        if dest != state or last_seq != seq:
            mismatches.append(Mismatch("position", entity_id, state, seq, dest, last_seq))
        model = PositionModel(entity_id, seq=seq)
        by_state[state].append(model)
        loaded[entity_id] = model
    for state, models in by_state.items():
        positions.add(models, state)
    gate_model, gate_mismatches = load_gate(connection, gate)
    return Loaded(loaded, gate_model, tuple(mismatches) + gate_mismatches)


def load_gate(connection: Connection, gate: StateMachine) -> tuple[GateModel | None, tuple[Mismatch, ...]]:
    """The gate alone (the orchestrator needs no positions)."""
    row = connection.execute(select(GATE.c.state, GATE.c.seq, GATE.c.reason, GATE.c.locked_until)).first()
    if row is None:
        return None, ()
    model = GateModel(seq=row.seq, reason=row.reason, locked_until=row.locked_until)
    gate.add([model], row.state)
    mismatches = tuple(
        Mismatch("gate", entity_id, state, seq, dest, last_seq)
        for entity_id, state, seq, dest, last_seq in _entities_with_last_transition(connection, "gate")
        if dest != state or last_seq != seq
    )
    return model, mismatches


def _entities_with_last_transition(
    connection: Connection, machine: str
) -> list[tuple[str, str, int, str | None, int | None]]:
    entity = POSITIONS if machine == "position" else GATE
    earlier = TRANSITIONS.alias("earlier")
    last_seq = (
        select(func.max(earlier.c.seq))
        .where(earlier.c.machine == machine, earlier.c.entity_id == entity.c.id)
        .correlate(entity)
        .scalar_subquery()
    )
    query = (
        select(entity.c.id, entity.c.state, entity.c.seq, TRANSITIONS.c.dest, TRANSITIONS.c.seq)
        .select_from(entity)
        .outerjoin(
            TRANSITIONS,
            and_(
                TRANSITIONS.c.machine == machine, TRANSITIONS.c.entity_id == entity.c.id, TRANSITIONS.c.seq == last_seq
            ),
        )
    )
    if machine == "position":
        query = query.where(entity.c.state.not_in([str(s) for s in POSITION_TABLE.final]))
    return [tuple(row) for row in connection.execute(query)]
