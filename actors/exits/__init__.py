"""Exits: the exit modes' math (strategies.py), pure logic."""

from actors.exits.strategies import (
    ExitKind,
    ExitPlan,
    Tightened,
    first_triggered,
    plan_exits,
    tighten_to_mode,
    trail_stop,
    trailing_active,
)

__all__ = [
    "ExitKind",
    "ExitPlan",
    "Tightened",
    "first_triggered",
    "plan_exits",
    "tighten_to_mode",
    "trail_stop",
    "trailing_active",
]
