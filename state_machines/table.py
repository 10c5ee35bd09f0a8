"""Declarative state tables on `transitions`, shared by the position and gate machines.

A table is data: states, triggers and one `Edge` per allowed (source, trigger).
`build_machine` turns it into one shared `transitions.Machine` per kind; many
entity models are added to it. The only callback records the pending transition
on the model; the owner persists state and transition together and, if that
fails, puts the previous state back (`transitions` itself has no rollback).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from transitions import EventData, Machine

Guard = Callable[[Any, Mapping[str, Any]], bool]


class TransitionNotAllowed(Exception):
    """A trigger fired in a state whose table has no edge for it (or whose guard said no)."""

    def __init__(self, machine: str, entity_id: str, state: str, trigger: str, why: str = "") -> None:
        self.machine, self.entity_id, self.state, self.trigger = machine, entity_id, state, trigger
        detail = f": {why}" if why else ""
        super().__init__(f"{machine} {entity_id}: trigger {trigger!r} is not allowed in state {state!r}{detail}")


@dataclass(frozen=True, slots=True)
class Edge:
    trigger: str
    source: str
    dest: str
    guard: Guard | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class StateTable:
    name: str
    states: tuple[str, ...]
    triggers: tuple[str, ...]
    initial: str
    final: frozenset[str]
    edges: tuple[Edge, ...]
    _index: dict[tuple[str, str], Edge] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[tuple[str, str], Edge] = {}
        for edge in self.edges:
            if edge.source not in self.states or edge.dest not in self.states:
                raise ValueError(f"{self.name}: edge {edge} names an unknown state")
            if edge.trigger not in self.triggers:
                raise ValueError(f"{self.name}: edge {edge} names an unknown trigger")
            if (edge.source, edge.trigger) in index:
                raise ValueError(f"{self.name}: two edges for {edge.trigger!r} from {edge.source!r}")
            index[(edge.source, edge.trigger)] = edge
        object.__setattr__(self, "_index", index)

    def edge(self, source: str, trigger: str) -> Edge | None:
        return self._index.get((source, trigger))


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """One row of the append-only transitions table, before it is written."""

    machine: str
    entity_id: str
    seq: int
    source: str
    dest: str
    trigger: str
    reason: str
    at: int
    payload: Mapping[str, Any] = field(default_factory=dict)


class Stateful:
    """A model the shared machine drives: an id, the state, and the row's sequence number."""

    __slots__ = ("__dict__", "entity_id", "pending", "seq")
    # Set on the model by `transitions` (`add_model`), not here.
    state: str
    trigger: Callable[..., bool]

    def __init__(self, entity_id: str, seq: int = 0) -> None:
        self.entity_id = entity_id
        self.seq = seq
        self.pending: TransitionRecord | None = None


class _SharedMachine(Machine):
    """Binds only `trigger` on each model: no `is_<state>`/`<trigger>()` shortcuts.

    The shortcuts cost ~20 attribute bindings per model (2 s for 10,000 positions
    at start-up) and invite callers to bypass the table's validation in `fire`.
    """

    def _add_model_to_state(self, state: Any, model: Any) -> None:
        return None

    def _add_trigger_to_model(self, trigger: str, model: Any) -> None:
        return None


class StateMachine:
    """One `transitions.Machine` for every entity of a kind."""

    def __init__(self, table: StateTable) -> None:
        self.table = table
        self._machine = _SharedMachine(
            model=None,
            # Plain strings: `transitions` would key Enum states by member name, not value.
            states=[str(s) for s in table.states],
            transitions=[
                {"trigger": str(e.trigger), "source": str(e.source), "dest": str(e.dest), "conditions": [_condition(e)]}
                for e in table.edges
            ],
            initial=str(table.initial),
            auto_transitions=False,
            send_event=True,
            after_state_change=self._record,
        )

    def add(self, models: Sequence[Stateful], state: str) -> None:
        """Attach models that are all in `state` (rows loaded from the database, or new ones)."""
        if state not in self.table.states:
            raise ValueError(f"{self.table.name}: unknown state {state!r}")
        self._machine.add_model(models, initial=str(state))

    def remove(self, model: Stateful) -> None:
        self._machine.remove_model(model)

    def fire(self, model: Stateful, trigger: str, *, reason: str, at: int, **payload: Any) -> TransitionRecord:
        """Validate against the table, then move the model; returns the transition to persist."""
        state = model.state
        edge = self.table.edge(state, trigger)
        if edge is None:
            raise TransitionNotAllowed(self.table.name, model.entity_id, state, trigger)
        if edge.guard is not None and not edge.guard(model, {"reason": reason, "at": at, **payload}):
            raise TransitionNotAllowed(
                self.table.name, model.entity_id, state, trigger, f"guard {edge.guard.__name__} refused"
            )
        model.pending = None
        model.trigger(str(trigger), reason=reason, at=at, payload=payload)
        record = model.pending
        assert record is not None, "after_state_change did not record the transition"
        return record

    def restore(self, model: Stateful, state: str, seq: int) -> None:
        """Put a model back after its transition failed to commit."""
        self._machine.set_state(str(state), model=model)
        model.seq = seq
        model.pending = None

    def _record(self, event: EventData) -> None:
        model, transition = cast(Stateful, event.model), event.transition
        assert transition is not None and transition.dest is not None, "after_state_change runs for a transition"
        model.seq += 1
        model.pending = TransitionRecord(
            machine=self.table.name,
            entity_id=model.entity_id,
            seq=model.seq,
            source=transition.source,
            dest=transition.dest,
            trigger=event.event.name,
            reason=event.kwargs["reason"],
            at=event.kwargs["at"],
            payload=event.kwargs["payload"],
        )


def _condition(edge: Edge) -> Callable[[EventData], bool]:
    """`fire` checks guards before triggering; this keeps the machine itself honest too."""
    guard = edge.guard
    if guard is None:
        return lambda event: True
    return lambda event: guard(
        event.model, {"reason": event.kwargs["reason"], "at": event.kwargs["at"], **event.kwargs["payload"]}
    )


def has_reason(model: Any, event: Mapping[str, Any]) -> bool:
    """Edges that a person must be able to read later need a reason."""
    return bool(str(event.get("reason", "")).strip())
