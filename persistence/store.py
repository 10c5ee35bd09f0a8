"""The one commit path for state changes: entity row and transition row in one transaction.

The entity row carries a sequence number; the UPDATE only matches the sequence the
in-memory model was loaded with, so a lost update (another writer got there first)
is detected instead of overwritten. If anything in the transaction fails, the
in-memory model is put back in its previous state and the caller gets the error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, insert, select, update

from persistence import lease
from persistence.loading import Loaded, Mismatch, load_gate, load_machines
from persistence.tables import GATE, POSITIONS, TRANSITIONS
from state_machines import GateModel, GateState, PositionModel, PositionState, StateMachine
from state_machines.gate import GATE_ENTITY_ID
from state_machines.table import Stateful, TransitionRecord

ENTITY_TABLES: dict[str, Table] = {"position": POSITIONS, "gate": GATE}
CREATED = "create"

# Statements built once: values go in as parameters, so SQLAlchemy's compiled cache is hit every time
# (building `.values(...)` per call costs more than the SQLite commit itself).
INSERT_TRANSITION = insert(TRANSITIONS)
INSERT_POSITION = insert(POSITIONS)
MOVE_ENTITY = {
    name: update(table).where(table.c.id == bindparam("b_id"), table.c.seq == bindparam("b_seq"))
    for name, table in ENTITY_TABLES.items()
}

Also = Callable[[Connection], None]


class StaleState(Exception):
    """The entity row moved on since this model was loaded: a lost update was prevented."""

    def __init__(self, machine: str, entity_id: str, expected_seq: int) -> None:
        self.machine, self.entity_id, self.expected_seq = machine, entity_id, expected_seq
        super().__init__(
            f"{machine} {entity_id}: expected sequence {expected_seq} on the row, found another; not overwritten"
        )


def dump_payload(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} in a transition payload")


def transition_row(record: TransitionRecord, lease_token: int | None = None) -> dict[str, Any]:
    return {
        "lease_token": lease_token,
        "machine": record.machine,
        "entity_id": record.entity_id,
        "seq": record.seq,
        "source": record.source,
        "dest": record.dest,
        "trigger": record.trigger,
        "reason": record.reason,
        "payload": dump_payload(record.payload),
        "at": record.at,
    }


class Store:
    """Commits through one connection, owned by one thread (an actor opens it in `on_start`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection = engine.connect()
        self.lease_token = lease.token_of(engine)  # which owner of the account wrote each transition

    def close(self) -> None:
        self.connection.close()

    def load(self, positions: StateMachine, gate: StateMachine) -> Loaded:
        """Attach every non-final position and the gate to their machines (see persistence.loading)."""
        with self.connection.begin():
            return load_machines(self.connection, positions, gate)

    def load_gate(self, gate: StateMachine) -> tuple[GateModel | None, tuple[Mismatch, ...]]:
        with self.connection.begin():
            return load_gate(self.connection, gate)

    def write(self, work: Also) -> None:
        """Any other writes, in a transaction of their own."""
        with self.connection.begin():
            work(self.connection)

    def new_position(
        self, values: Mapping[str, Any], *, reason: str, at: int, payload: Mapping[str, Any] | None = None
    ) -> NewPosition:
        """A position in `pending_entry` with its first transition, not written yet (`create_position` writes one
        at once; the execution journal writes several with a step's other changes)."""
        model = PositionModel(values["id"], seq=1)
        record = TransitionRecord(
            machine="position",
            entity_id=model.entity_id,
            seq=1,
            source="",
            dest=PositionState.PENDING_ENTRY,
            trigger=CREATED,
            reason=reason,
            at=at,
            payload=dict(payload or {}),
        )
        row = {**values, "state": PositionState.PENDING_ENTRY, "seq": 1, "created_at": at}
        return NewPosition(model, row, transition_row(record, self.lease_token))

    def create_position(
        self,
        machine: StateMachine,
        values: Mapping[str, Any],
        *,
        reason: str,
        at: int,
        payload: Mapping[str, Any] | None = None,
        also: Also | None = None,
    ) -> PositionModel:
        """Insert a position in `pending_entry` with its first transition, then attach its model."""
        new = self.new_position(values, reason=reason, at=at, payload=payload)
        with self.connection.begin():
            new.write(self.connection)
            if also is not None:
                also(self.connection)
        machine.add([new.model], PositionState.PENDING_ENTRY)
        return new.model

    def ensure_gate(self, at: int) -> None:
        """The gate row exists from the first start on, opened by a recorded transition."""
        with self.connection.begin():
            if self.connection.execute(select(GATE.c.id)).first() is not None:
                return
            record = TransitionRecord(
                machine="gate",
                entity_id=GATE_ENTITY_ID,
                seq=1,
                source="",
                dest=GateState.OPEN,
                trigger=CREATED,
                reason="first start",
                at=at,
            )
            self.connection.execute(
                insert(GATE).values(
                    id=GATE_ENTITY_ID, state=GateState.OPEN, seq=1, reason="", locked_until=None, updated_at=at
                )
            )
            self.connection.execute(INSERT_TRANSITION, transition_row(record, self.lease_token))

    def move(
        self,
        machine: StateMachine,
        model: Stateful,
        trigger: str,
        *,
        reason: str,
        at: int,
        changes: Mapping[str, Any] | None = None,
        **payload: Any,
    ) -> Move:
        """Move the model in memory; its row and transition are written by the `Move` (or it is undone)."""
        previous = (model.state, model.seq, _gate_fields(model))
        record = machine.fire(model, trigger, reason=reason, at=at, **payload)
        row_changes = dict(changes or {})
        if isinstance(model, GateModel):
            row_changes.update(reason=reason, updated_at=at, locked_until=payload.get("locked_until"))
            model.reason, model.locked_until = reason, payload.get("locked_until")
        return Move(machine, model, record, previous, row_changes, self.lease_token)

    def fire(
        self,
        machine: StateMachine,
        model: Stateful,
        trigger: str,
        *,
        reason: str,
        at: int,
        changes: Mapping[str, Any] | None = None,
        also: Also | None = None,
        **payload: Any,
    ) -> TransitionRecord:
        """Move the model, then commit row and transition together; undo the move if that fails."""
        move = self.move(machine, model, trigger, reason=reason, at=at, changes=changes, **payload)
        try:
            with self.connection.begin():
                move.write(self.connection)
                if also is not None:
                    also(self.connection)
        except BaseException:
            move.undo()
            raise
        return move.record


@dataclass(frozen=True, slots=True)
class NewPosition:
    """A position's first row and transition, to be written in the caller's transaction; its model is attached to
    the machine once that committed."""

    model: PositionModel
    row: dict[str, Any]
    transition: dict[str, Any]

    def write(self, connection: Connection) -> None:
        connection.execute(INSERT_POSITION, self.row)
        connection.execute(INSERT_TRANSITION, self.transition)


@dataclass(frozen=True, slots=True)
class Move:
    """A transition made in memory: `write` puts the entity's row and the transition row in the caller's
    transaction; `undo` puts the model back where it was when that transaction failed."""

    machine: StateMachine
    model: Stateful
    record: TransitionRecord
    previous: tuple[str, int, tuple[str, int | None] | None]
    changes: dict[str, Any]
    lease_token: int | None

    def write(self, connection: Connection) -> None:
        record, previous_seq = self.record, self.previous[1]
        result = connection.execute(
            MOVE_ENTITY[record.machine],
            {**self.changes, "state": record.dest, "seq": record.seq, "b_id": record.entity_id, "b_seq": previous_seq},
        )
        if result.rowcount != 1:
            raise StaleState(record.machine, record.entity_id, previous_seq)
        connection.execute(INSERT_TRANSITION, transition_row(record, self.lease_token))

    def undo(self) -> None:
        state, seq, gate_fields = self.previous
        self.machine.restore(self.model, state, seq)
        if isinstance(self.model, GateModel) and gate_fields is not None:
            self.model.reason, self.model.locked_until = gate_fields


def _gate_fields(model: Stateful) -> tuple[str, int | None] | None:
    return (model.reason, model.locked_until) if isinstance(model, GateModel) else None
