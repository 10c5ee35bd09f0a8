"""Exits: the exit modes' math (strategies.py), pure logic."""

from actors.exits.strategies import (
    ExitKind,
    ExitPlan,
    first_triggered,
    plan_exits,
    switch_exit_mode,
    trail_stop,
    trailing_active,
)

__all__ = [
    "ExitKind",
    "ExitPlan",
    "first_triggered",
    "plan_exits",
    "switch_exit_mode",
    "trail_stop",
    "trailing_active",
]
