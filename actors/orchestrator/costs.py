"""The cost caps of DESIGN.md's "disallowed symbols" row: a symbol whose spread, or whose realised slippage over
its recent fills, is above its configured cap takes no new entries. Pure.

A figure not known yet (no book ticker heard, no fill measured) breaks no cap; slippage counts only once the
symbol has `slippage_min_fills` fills within its window, so one bad fill does not shut a symbol.
"""

from __future__ import annotations

from collections.abc import Iterable

from config.sections import RiskSettings
from persistence.cost_metrics import SymbolCosts


def cost_breaches(costs: Iterable[SymbolCosts], risk: RiskSettings) -> dict[str, str]:
    """Symbol -> why it is over a cap ("spread 20.0 bps > 15.0 cap, ..."), for each symbol over one. Reasons are
    joined with ", " as the policy's note joins a symbol's reasons ("; " separates the note's parts)."""
    found: dict[str, str] = {}
    for item in costs:
        why = []
        if item.spread_bps is not None and item.spread_bps > risk.max_spread_bps:
            why.append(f"spread {item.spread_bps:.1f} bps > {risk.max_spread_bps:.1f} cap")
        if (
            item.slippage_bps is not None
            and item.slippage_fills >= risk.slippage_min_fills
            and item.slippage_bps > risk.max_slippage_bps
        ):
            why.append(
                f"slippage {item.slippage_bps:.1f} bps over {item.slippage_fills} fills > "
                f"{risk.max_slippage_bps:.1f} cap"
            )
        if why:
            found[item.symbol] = ", ".join(why)
    return found
