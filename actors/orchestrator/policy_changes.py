"""What changed between two policies, in words for the operator's log. Pure.

Every field of `TradingPolicy` but the note is compared, so a field added to the policy shows up here without
a change; percentages read as percentages, symbol lists as what came in (+) and went out (-).
"""

from __future__ import annotations

from dataclasses import fields
from operator import attrgetter
from typing import Any

from actors.messages import TradingPolicy

_COMPARED = tuple(f.name for f in fields(TradingPolicy) if f.name != "note")
_DECISION = attrgetter(*_COMPARED)


def decides_alike(previous: TradingPolicy, policy: TradingPolicy) -> bool:
    """The same policy but for its note, whose running figures (a drawdown to the hundredth of a percent) would
    make nearly every cycle a "change"."""
    return bool(_DECISION(previous) == _DECISION(policy))


def describe_policy_change(previous: TradingPolicy | None, policy: TradingPolicy) -> str:
    """`field old -> new, ...` for a change; every field for the first policy (`previous` None)."""
    if previous is None:
        return ", ".join(f"{name} {_value(name, getattr(policy, name))}" for name in _COMPARED)
    changes = []
    for name in _COMPARED:
        old, new = getattr(previous, name), getattr(policy, name)
        if old == new:
            continue
        if isinstance(new, tuple):
            changes.append(f"{name} {_set_change(old, new)}")
        else:
            changes.append(f"{name} {_value(name, old)} -> {_value(name, new)}")
    return ", ".join(changes) or "no change"


def _value(name: str, value: Any) -> str:
    if isinstance(value, float) and name.endswith("_pct"):
        return f"{value:.2%}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_item(item) for item in value) + "]"
    return str(value)


def _item(item: Any) -> str:
    # (symbol, why) pairs, such as the cool-downs, read by their symbol.
    return str(item[0]) if isinstance(item, tuple) else str(item)


def _set_change(old: tuple[Any, ...], new: tuple[Any, ...]) -> str:
    before, after = [_item(i) for i in old], [_item(i) for i in new]
    parts = [f"+{i}" for i in after if i not in before] + [f"-{i}" for i in before if i not in after]
    return " ".join(parts) or "changed"  # the same symbols, a pair's reason changed (a cool-down extended)
