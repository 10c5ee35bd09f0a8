"""Which gate trigger, if any, brings the gate where the policy wants it. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from actors.clock import next_utc_midnight
from actors.orchestrator.policy import GateTarget
from state_machines import GateState


@dataclass(frozen=True, slots=True)
class GateAction:
    trigger: str
    reason: str
    locked_until: int | None = None


def gate_action(
    state: str, reason: str, locked_until: int | None, target: GateTarget | None, why: str, now: int
) -> GateAction | None:
    """`target` is None when the policy does not drive the gate (flag off): only a due unlock then applies.

    A halted gate is left alone: only an operator reopens it. A halt (the drawdown from the
    equity peak) comes over a pause and over a lock too: the day's lock ends at midnight,
    the halt does not. A lock holds until its time even if the drawdown recovers; after it
    opens, the next cycle re-locks if the limit is still hit.
    """
    if state == GateState.HALTED:
        return None
    if target == GateTarget.HALTED:
        return GateAction("halt", why)
    if state == GateState.LOCKED:
        if locked_until is not None and now >= locked_until:
            return GateAction("unlock", "new UTC trading day")
        return None
    if target is None or target == GateTarget.OPEN:
        return GateAction("clear", f"conditions cleared: {why}") if state == GateState.PAUSED else None
    if target == GateTarget.LOCKED:
        return GateAction("lock", why, locked_until=next_utc_midnight(now))
    if state == GateState.OPEN or why != reason:
        return GateAction("pause", why)
    return None
