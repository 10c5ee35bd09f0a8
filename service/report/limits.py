"""The replay report's limits in force over time: for each limit the policy sets, how long each of its values
held, from the policy snapshots (written at every change of the policy). Pure.

A value holds from its snapshot until the next one; the last until the run's end. Shares are of the time from
the first snapshot to the end.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

LIMITS = ("allow_new_trades", "max_open_positions", "max_risk_pct", "min_confidence", "exit_mode", "risk_profile")


def limits_over_time(snapshots: Iterable[tuple[int, Mapping[str, Any]]], end_at: int) -> dict[str, Any]:
    """`snapshots`: (ms, policy) in time order, read once (a year's run has 100k of them: only the previous one's
    limits are kept). {limit: {"values": {value: share}, "changes": n}}."""
    held: dict[str, dict[str, int]] = {limit: defaultdict(int) for limit in LIMITS}
    changes = dict.fromkeys(LIMITS, 0)
    first_at: int | None = None
    previous: tuple[int, tuple[str, ...]] | None = None
    for at, policy in snapshots:
        values = tuple(_text(policy.get(limit)) for limit in LIMITS)
        if previous is None:
            first_at = at
        else:
            _hold(held, previous, at)
            for limit, value, before in zip(LIMITS, values, previous[1], strict=True):
                if value != before:
                    changes[limit] += 1
        previous = (at, values)
    if previous is None or first_at is None:
        return {}
    _hold(held, previous, max(end_at, previous[0]))
    span = max(1, end_at - first_at)
    return {
        limit: {
            "values": {value: round(ms / span, 4) for value, ms in sorted(held[limit].items(), key=lambda kv: -kv[1])},
            "changes": changes[limit],
        }
        for limit in LIMITS
    }


def _hold(held: dict[str, dict[str, int]], snapshot: tuple[int, tuple[str, ...]], until: int) -> None:
    """Credit each of the snapshot's values with the time from it until `until`."""
    at, values = snapshot
    for limit, value in zip(LIMITS, values, strict=True):
        held[limit][value] += until - at


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
