"""The replay report's costs by symbol: the spread and recent slippage the policy saw last (the `cost-metrics`
row), the slippage of every measured fill of the run, and the signals the cost caps blocked. Pure.

Definitions (written once, here):
- a fill's slippage is its price against the price it was decided at, in basis points, a cost positive
  (`actors.execution.slippage`): entries against the price risk sized them at, stop-losses and take-profits
  against their trigger; market exits the service decided are not measured;
- `fills`, `mean_bps`, `worst_bps`: over every measured fill of the run (worst: the largest cost);
- `spread_bps`, `recent_slippage_bps`, `recent_fills`, `over_cap`: as the policy saw them at the run's last
  cycle (what it decided on: the mean over the last `risk.slippage_window` fills of the day);
- `blocked_by_cost`: signals the policy filter blocked while the symbol was over its spread or slippage cap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from actors.execution.slippage import SlippageSample
from persistence.cost_metrics import CostMetrics

POLICY_FILTER = "BLOCKED_BY_POLICY_FILTER"
_CAP = re.compile(r" bps .*> [0-9.]+ cap\b")  # actors.orchestrator.costs's words: "spread 20.0 bps > 15.0 cap"


@dataclass(frozen=True, slots=True, kw_only=True)
class FilterBlock:
    """A signal the policy filter blocked: its symbol and the decision's detail (which holds the policy's note)."""

    symbol: str
    detail: str


def cost_section(
    samples: Sequence[SlippageSample],
    seen: CostMetrics | None,
    blocks: Iterable[FilterBlock],
    symbols: Sequence[str] = (),
) -> dict[str, Any]:
    """The report's `costs`: the caps in force and one row per symbol (the policy's order, then any other)."""
    last = {costs.symbol: costs for costs in seen.symbols} if seen is not None else {}
    over = dict(seen.over_cap) if seen is not None else {}
    blocked: dict[str, int] = {}
    for block in blocks:
        if _cost_reason(block):
            blocked[block.symbol] = blocked.get(block.symbol, 0) + 1
    by_symbol: dict[str, list[float]] = {}
    for sample in samples:
        by_symbol.setdefault(sample.symbol, []).append(sample.bps)
    order = list(dict.fromkeys([*symbols, *last, *sorted(by_symbol), *sorted(blocked)]))
    rows = []
    for symbol in order:
        measured = by_symbol.get(symbol, [])
        costs = last.get(symbol)
        rows.append(
            {
                "symbol": symbol,
                "spread_bps": costs.spread_bps if costs is not None else None,
                "recent_slippage_bps": costs.slippage_bps if costs is not None else None,
                "recent_fills": costs.slippage_fills if costs is not None else 0,
                "over_cap": over.get(symbol, ""),
                "fills": len(measured),
                "mean_bps": sum(measured) / len(measured) if measured else None,
                "worst_bps": max(measured) if measured else None,
                "blocked_by_cost": blocked.get(symbol, 0),
            }
        )
    return {
        "max_spread_bps": seen.max_spread_bps if seen is not None else None,
        "max_slippage_bps": seen.max_slippage_bps if seen is not None else None,
        "by_symbol": rows,
    }


def _cost_reason(block: FilterBlock) -> bool:
    """Whether the policy disallowed the symbol for a cost: its part of the note ("Disallowed X: ..., spread 20.0
    bps > 15.0 cap") names a cap, which no other reason does."""
    marker = f"Disallowed {block.symbol}: "
    if marker not in block.detail:
        return False
    reasons = block.detail.split(marker, 1)[1].split("; ", 1)[0]
    return _CAP.search(reasons) is not None


COST_COLUMNS = (
    "symbol",
    "spread bps",
    "fills",
    "mean slippage bps",
    "worst bps",
    "recent slippage bps (fills)",
    "over a cap at the end",
    "signals blocked by a cost cap",
)


def costs_caps_line(costs: Mapping[str, Any]) -> str:
    """The Markdown line above the table: the caps, and what the figures are."""
    return (
        f"Caps: spread {_bps(costs['max_spread_bps'])} bps, slippage {_bps(costs['max_slippage_bps'])} bps. "
        "Slippage is each fill against the price it was decided at (a cost positive); recent is what the policy "
        "saw at the last cycle."
    )


def costs_rows(costs: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The report JSON's `costs.by_symbol` as the Markdown table's rows (COST_COLUMNS)."""
    return [
        (
            row["symbol"],
            _bps(row["spread_bps"]),
            row["fills"],
            _bps(row["mean_bps"]),
            _bps(row["worst_bps"]),
            f"{_bps(row['recent_slippage_bps'])} ({row['recent_fills']})",
            row["over_cap"] or "-",
            row["blocked_by_cost"],
        )
        for row in costs["by_symbol"]
    ]


def _bps(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
