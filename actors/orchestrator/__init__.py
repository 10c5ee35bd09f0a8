"""Orchestrator: the policy engine (pure logic in policy.py and conditions.py)."""

from actors.orchestrator.conditions import market_conditions
from actors.orchestrator.policy import (
    FALLBACK,
    NO_NEW_TRADES,
    REDUCED,
    GateTarget,
    PolicyInputs,
    RiskState,
    SymbolPerformance,
    compute_policy,
    desired_gate,
    drawdown_limit_hit,
    fallback_policy,
    gate_closures,
)

__all__ = [
    "FALLBACK",
    "NO_NEW_TRADES",
    "REDUCED",
    "GateTarget",
    "PolicyInputs",
    "RiskState",
    "SymbolPerformance",
    "compute_policy",
    "desired_gate",
    "drawdown_limit_hit",
    "fallback_policy",
    "gate_closures",
    "market_conditions",
]
