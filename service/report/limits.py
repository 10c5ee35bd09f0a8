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
    """`snapshots`: (ms, policy) in time order. {limit: {"values": {value: share}, "changes": n}}."""
    rows = list(snapshots)
    if not rows:
        return {}
    span = max(1, end_at - rows[0][0])
    held: dict[str, dict[str, int]] = {limit: defaultdict(int) for limit in LIMITS}
    changes = dict.fromkeys(LIMITS, 0)
    for index, (at, policy) in enumerate(rows):
        until = rows[index + 1][0] if index + 1 < len(rows) else max(end_at, at)
        for limit in LIMITS:
            value = _text(policy.get(limit))
            held[limit][value] += until - at
            if index and value != _text(rows[index - 1][1].get(limit)):
                changes[limit] += 1
    return {
        limit: {
            "values": {value: round(ms / span, 4) for value, ms in sorted(held[limit].items(), key=lambda kv: -kv[1])},
            "changes": changes[limit],
        }
        for limit in LIMITS
    }


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
