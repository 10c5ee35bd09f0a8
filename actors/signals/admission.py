"""Which of a step's signals go on to be decided, and which the signal source settles itself. Pure.

Each signal id gets exactly one recorded decision, also across restarts:

* an id that already has a decision is skipped and nothing new is recorded (a reused id, or the same line read
  again after a restart): its one decision stands, and the caller logs and counts the reuse;
* an id with a position but no decision was acted on before a crash took its decision with it (execution opened
  the position, then the process died before the step's last transaction): its decision is recorded from the
  position, never decided again;
* a signal older than the maximum age is recorded `REJECTED_AS_STALE` and not traded;
* the rest go on to the orchestrator, which, with risk and execution, records their decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from actors.messages import DecisionReason, Signal, position_id_for

# A position in one of these states never reached the exchange, or the exchange refused it.
NOT_SENT_STATES = frozenset({"rejected", "cancelled"})


class Outcome(StrEnum):
    FRESH = "fresh"  # goes on to be decided
    DECIDED = "decided"  # has its decision already: skipped
    RECORDED = "recorded"  # decided here: the row is in the verdict


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    row: dict[str, Any] | None = None  # the decision recorded here
    earlier: str = ""  # DECIDED: the reason of the decision it has, or why it is a repeat


def decision_row(
    signal: Signal, reason: DecisionReason, detail: str, at: int, position_id: str | None = None
) -> dict[str, Any]:
    return dict(
        signal_id=signal.id,
        at=at,
        symbol=signal.symbol,
        side=str(signal.side),
        confidence=signal.confidence,
        source=signal.source,
        reason=str(reason),
        detail=detail,
        position_id=position_id,
    )


class Admission:
    """Judges one step's signals, in order. `decided`: signal id -> the reason of its recorded decision;
    `positions`: position id -> state, for the positions of these signals (`position_id_for`)."""

    def __init__(self, *, decided: Mapping[str, str], positions: Mapping[str, str], now: int, max_age_ms: int) -> None:
        self.decided, self.positions, self.now, self.max_age_ms = decided, positions, now, max_age_ms
        self._seen: set[str] = set()

    def judge(self, signal: Signal) -> Verdict:
        if signal.id in self._seen:
            return Verdict(Outcome.DECIDED, earlier="twice in one step")
        self._seen.add(signal.id)
        earlier = self.decided.get(signal.id)
        if earlier is not None:
            return Verdict(Outcome.DECIDED, earlier=earlier)
        position_id = position_id_for(signal.id)
        state = self.positions.get(position_id)
        if state is not None:
            reason = DecisionReason.REJECTED_BY_EXCHANGE if state in NOT_SENT_STATES else DecisionReason.ACCEPTED
            detail = f"decided before a restart, which lost the decision: position {position_id} is {state}"
            return Verdict(Outcome.RECORDED, decision_row(signal, reason, detail, self.now, position_id))
        age = self.now - signal.at
        if age > self.max_age_ms:
            detail = f"{age / 1000:.1f}s old (max {self.max_age_ms / 1000:g}s): not traded"
            return Verdict(Outcome.RECORDED, decision_row(signal, DecisionReason.REJECTED_AS_STALE, detail, self.now))
        return Verdict(Outcome.FRESH)
