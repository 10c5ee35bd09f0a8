"""The one log line per sizing: the order sized (or why none was) and the terms that produced it. Pure.

What seed 000 asks operators to watch ("Position Sizing with Policy", "Risk Scaling Applied"), on one line
so that a grep finds all of it.
"""

from __future__ import annotations

from decimal import Decimal

from actors.messages import Signal
from actors.risk.sizing import SizedOrder, SizingRejected
from actors.risk.terms import RiskTerms


def sizing_line(signal: Signal, equity: Decimal, terms: RiskTerms, result: SizedOrder | SizingRejected) -> str:
    head = f"sizing {signal.symbol} {signal.side} (signal {signal.id}, confidence {signal.confidence:.2f})"
    if isinstance(result, SizingRejected):
        return f"{head}: not sized: {result.reason}; terms: {terms.describe()}"
    order = result
    adjustments = "; ".join(order.adjustments) or "none"
    return (
        f"{head}: {order.quantity} at {order.entry_price}, stop {order.stop_price} ({order.stop_distance} away), "
        f"notional {order.notional:.2f}; risk {order.risk_pct:.3%} of equity {equity:.2f} = {order.risk_usd:.2f} "
        f"(at stop {order.risk_at_stop:.2f}); terms: {terms.describe()}; adjustments: {adjustments}"
    )
