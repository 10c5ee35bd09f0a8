"""Risk: position sizing (sizing.py) and the global risk controller (limits.py), pure logic."""

from actors.risk.limits import LimitVerdict, PositionLimits, check_new_position, correlation_lookup
from actors.risk.sizing import (
    SizedOrder,
    SizingRejected,
    SymbolFilters,
    confidence_factor,
    final_risk_pct,
    profile_factor,
    seed_risk_pct,
    size_position,
)

__all__ = [
    "LimitVerdict",
    "PositionLimits",
    "SizedOrder",
    "SizingRejected",
    "SymbolFilters",
    "check_new_position",
    "confidence_factor",
    "correlation_lookup",
    "final_risk_pct",
    "profile_factor",
    "seed_risk_pct",
    "size_position",
]
