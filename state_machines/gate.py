"""The global trading gate (one model, owned by the orchestrator).

A closed gate stops new entries only; exits, stops and PnL tracking go on.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from state_machines.table import Edge, Stateful, StateMachine, StateTable, has_reason

GATE_ENTITY_ID = "global"


class GateState(StrEnum):
    OPEN = "open"
    PAUSED = "paused"  # clears by itself: extreme volatility, max positions, exposure cap
    LOCKED = "locked"  # daily drawdown limit, until the next UTC trading day
    HALTED = "halted"  # operator's kill switch or an unresolved mismatch: only an operator reopens


class GateTrigger(StrEnum):
    PAUSE = "pause"
    CLEAR = "clear"
    LOCK = "lock"
    UNLOCK = "unlock"
    HALT = "halt"
    RESUME = "resume"


def lock_expired(model: Any, event: Mapping[str, Any]) -> bool:
    """A drawdown lock opens only once its time has come (the next UTC day)."""
    locked_until = getattr(model, "locked_until", None)
    return locked_until is None or event["at"] >= locked_until


def has_lock_end(model: Any, event: Mapping[str, Any]) -> bool:
    return has_reason(model, event) and isinstance(event.get("locked_until"), int)


S, T = GateState, GateTrigger

GATE_TABLE = StateTable(
    name="gate",
    states=tuple(S),
    triggers=tuple(T),
    initial=S.OPEN,
    final=frozenset(),
    edges=(
        Edge(T.PAUSE, S.OPEN, S.PAUSED, guard=has_reason),
        # Still paused, for another reason (e.g. max positions, then extreme volatility): recorded.
        Edge(T.PAUSE, S.PAUSED, S.PAUSED, guard=has_reason),
        Edge(T.CLEAR, S.PAUSED, S.OPEN),
        Edge(T.LOCK, S.OPEN, S.LOCKED, guard=has_lock_end),
        Edge(T.LOCK, S.PAUSED, S.LOCKED, guard=has_lock_end),
        Edge(T.UNLOCK, S.LOCKED, S.OPEN, guard=lock_expired),
        Edge(T.HALT, S.OPEN, S.HALTED, guard=has_reason),
        Edge(T.HALT, S.PAUSED, S.HALTED, guard=has_reason),
        Edge(T.HALT, S.LOCKED, S.HALTED, guard=has_reason),
        # Only an operator reopens a halted gate; a drawdown lock still in force is re-applied next cycle.
        Edge(T.RESUME, S.HALTED, S.OPEN, guard=has_reason),
    ),
)


class GateModel(Stateful):
    __slots__ = ("locked_until", "reason")

    def __init__(self, seq: int = 0, reason: str = "", locked_until: int | None = None) -> None:
        super().__init__(GATE_ENTITY_ID, seq)
        self.reason = reason
        self.locked_until = locked_until


def gate_machine() -> StateMachine:
    return StateMachine(GATE_TABLE)
