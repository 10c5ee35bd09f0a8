"""The operator's kill switch on the gate: the one rule, applied by the service or, when none runs, by the CLI."""

from __future__ import annotations

from persistence.store import Store
from state_machines import GateModel, GateState, StateMachine, TransitionNotAllowed

HALT, RESUME = "halt", "resume"


def apply_gate_command(
    store: Store, machine: StateMachine, gate: GateModel, command: str, reason: str, now: int
) -> str:
    """Halt or resume the gate; returns what happened, in words for the operator."""
    if command == HALT and gate.state == GateState.HALTED:
        return f"already halted ({gate.reason})"
    if command == RESUME and gate.state != GateState.HALTED:
        return f"not halted (gate is {gate.state}); nothing to resume"
    try:
        store.fire(machine, gate, command, reason=f"operator: {reason}", at=now)
    except TransitionNotAllowed as error:
        return str(error)
    return f"gate {gate.state}: operator: {reason}"
