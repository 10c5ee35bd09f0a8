"""What trading each symbol costs (spread and realised slippage), and the `cost-metrics` row that keeps the
figures the policy saw last, for `status` and the replay report.

This module is the row's only reader and writer of its shape: the orchestrator saves it (`encode`), `status` and
the report read it (`decode`). Pure: no SQLAlchemy, no actors; the row lives in `service_state`
(`records.save_state` / `load_state`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

COST_METRICS = "cost-metrics"  # the service_state row
ROUND_BPS = 2  # figures are kept to a hundredth of a basis point: steadier text, and a row rewritten only on change


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolCosts:
    """What trading one symbol costs now, in basis points of price."""

    symbol: str
    spread_bps: float | None = None  # best bid/ask spread (paper: its configured spread); None: not known yet
    slippage_bps: float | None = None  # mean realised slippage over recent fills, a cost positive; None: no fill yet
    slippage_fills: int = 0  # the fills that mean is over


@dataclass(frozen=True, slots=True, kw_only=True)
class CostMetrics:
    """The costs the policy saw at `at`, its caps, and the symbols over a cap with why."""

    at: int
    max_spread_bps: float
    max_slippage_bps: float
    symbols: tuple[SymbolCosts, ...] = ()
    over_cap: Mapping[str, str] = field(default_factory=dict)


def encode(metrics: CostMetrics) -> dict[str, Any]:
    return {
        "at": metrics.at,
        "max_spread_bps": metrics.max_spread_bps,
        "max_slippage_bps": metrics.max_slippage_bps,
        "symbols": [
            {
                "symbol": costs.symbol,
                "spread_bps": _rounded(costs.spread_bps),
                "slippage_bps": _rounded(costs.slippage_bps),
                "slippage_fills": costs.slippage_fills,
                "over_cap": metrics.over_cap.get(costs.symbol, ""),
            }
            for costs in metrics.symbols
        ],
    }


def decode(value: Any) -> CostMetrics:
    """The inverse of `encode` (figures rounded as saved); ValueError for a row that is not one."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{COST_METRICS} is not a JSON object: {value!r}")
    try:
        rows = value["symbols"]
        symbols = tuple(
            SymbolCosts(
                symbol=str(row["symbol"]),
                spread_bps=_number(row.get("spread_bps")),
                slippage_bps=_number(row.get("slippage_bps")),
                slippage_fills=int(row.get("slippage_fills", 0)),
            )
            for row in rows
        )
        return CostMetrics(
            at=int(value["at"]),
            max_spread_bps=float(value["max_spread_bps"]),
            max_slippage_bps=float(value["max_slippage_bps"]),
            symbols=symbols,
            over_cap={str(row["symbol"]): str(row["over_cap"]) for row in rows if row.get("over_cap")},
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{COST_METRICS} is not readable: {type(error).__name__}: {error}") from None


def _rounded(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    figure = round(value, ROUND_BPS)
    return 0.0 if figure == 0 else figure  # never "-0.0"


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"not a number: {value!r}")
    return float(value)
