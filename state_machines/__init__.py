"""Declarative state tables for positions and the trading gate, on `transitions`."""

from state_machines.gate import GATE_TABLE, GateModel, GateState, GateTrigger, gate_machine
from state_machines.position import POSITION_TABLE, PositionModel, PositionState, PositionTrigger, position_machine
from state_machines.table import StateMachine, StateTable, TransitionNotAllowed, TransitionRecord

TABLES = {"position": POSITION_TABLE, "gate": GATE_TABLE}

__all__ = [
    "GATE_TABLE",
    "POSITION_TABLE",
    "TABLES",
    "GateModel",
    "GateState",
    "GateTrigger",
    "PositionModel",
    "PositionState",
    "PositionTrigger",
    "StateMachine",
    "StateTable",
    "TransitionNotAllowed",
    "TransitionRecord",
    "gate_machine",
    "position_machine",
]
