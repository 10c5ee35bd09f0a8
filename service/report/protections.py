"""How often each protection beyond the day held a run back, read from its database (read-only).

- max drawdown and equity floor: the gate events that brought the protection's reason in (a further event while
  it still holds, e.g. a pause for one more reason, is not a new one);
- cool-downs: the symbols that started cooling down, from the policy snapshots (each change of the policy is one);
- signals blocked: the decisions whose detail names the protection (a gate that held for several reasons counts
  for each of them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from actors.protections import COOLING_DOWN, EQUITY_FLOOR_REASON, MAX_DRAWDOWN_REASON
from persistence.tables import SIGNAL_DECISIONS

# What each protection writes into gate reasons and decision details.
MARKERS: dict[str, str] = {
    "max_drawdown": MAX_DRAWDOWN_REASON,
    "equity_floor": EQUITY_FLOOR_REASON,
    "cooldown": f" {COOLING_DOWN} until ",
}
LABELS: dict[str, str] = {
    "max_drawdown": "max drawdown from the equity peak (halts)",
    "equity_floor": "equity floor (pauses)",
    "cooldown": "cool-down after stop-outs (symbols)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtectionCount:
    engaged: int  # halts, pauses, or cool-downs started
    signals_blocked: int
    by_symbol: Mapping[str, int] = field(default_factory=dict)  # cool-downs started, per symbol


def count_protections(
    connection: Connection, gate_reasons: Iterable[str], cooldowns: Cooldowns
) -> dict[str, ProtectionCount]:
    """`gate_reasons`: the reasons of the run's gate events, in order; `cooldowns`: having seen every policy
    snapshot (the report reads them once, for this and for the limits in force)."""
    reasons = list(gate_reasons)
    blocked = {
        name: connection.execute(
            select(func.count()).where(SIGNAL_DECISIONS.c.detail.contains(marker, autoescape=True))
        ).scalar_one()
        for name, marker in MARKERS.items()
    }
    started = cooldowns.started
    return {
        "max_drawdown": ProtectionCount(
            engaged=_brought_in(reasons, MARKERS["max_drawdown"]), signals_blocked=blocked["max_drawdown"]
        ),
        "equity_floor": ProtectionCount(
            engaged=_brought_in(reasons, MARKERS["equity_floor"]), signals_blocked=blocked["equity_floor"]
        ),
        "cooldown": ProtectionCount(
            engaged=sum(started.values()), signals_blocked=blocked["cooldown"], by_symbol=dict(sorted(started.items()))
        ),
    }


def _brought_in(reasons: list[str], marker: str) -> int:
    return sum(
        marker in reason and (index == 0 or marker not in reasons[index - 1]) for index, reason in enumerate(reasons)
    )


class Cooldowns:
    """The symbols that started cooling down, from the policy snapshots seen in order (each change of the policy
    is one): a symbol starts each time it is cooling down where the policy before had it not."""

    def __init__(self) -> None:
        self.started: Counter[str] = Counter()
        self._cooling: set[str] = set()

    def see(self, policy: Mapping[str, Any]) -> None:
        now = {str(symbol) for symbol, _ in policy.get("cooling_down") or ()}
        self.started.update(now - self._cooling)
        self._cooling = now
