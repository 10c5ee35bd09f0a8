"""How the fake executes market orders in several trades, and how it answers `userTrades` within Binance's limits.

A `FillPlan` (set by `Faults.fill_in_trades` / `Faults.partial_fills`) splits the
next market order into trades: each a share of the quantity (rounded down to the
step size; the last takes what is left), each `ticks` worse than the market price
(a buy pays more, a sell gets less), as a market order sweeping a thin book does.

`select_trades` is GET /fapi/v1/userTrades as Binance documents it: `limit`
500 by default, at most 1000; `fromId` cannot be sent with `startTime` or
`endTime`; the time between `startTime` and `endTime` is at most 7 days; with
only one of them the window is the 7 days after (or before) it; with neither
(and no `fromId`) the last 7 days, the most recent `limit` of them. Otherwise the oldest trades that
match come first, ascending by id, so a client pages on with `fromId` (the last
id + 1) or a later `startTime`. With `orderId` alone: that order's trades.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from scripts.fake_binance.errors import ApiError

DEFAULT_LIMIT, MAX_LIMIT = 500, 1000
WEEK_MS = 7 * 24 * 3_600_000


@dataclass(frozen=True, slots=True)
class FillPlan:
    shares: tuple[Decimal, ...]  # fraction of the quantity per trade, in order; () with `equal`
    ticks: tuple[int, ...]  # per trade: ticks worse than the market price
    expire_remainder: bool = False  # only the first trade executes; the rest of the order expires
    equal: int = 0  # instead of shares: this many trades of one size (in steps), the last taking the rest

    @classmethod
    def equal_parts(cls, count: int, *, expire_remainder: bool = False) -> FillPlan:
        if count < 1:
            raise ValueError("at least one trade")
        return cls((), (0,) * count, expire_remainder, count)

    @classmethod
    def of(
        cls, shares: Sequence[Decimal | str], ticks: Sequence[int] | None = None, *, expire_remainder: bool = False
    ) -> FillPlan:
        fractions = tuple(Decimal(s) for s in shares)
        if not fractions or any(f <= 0 for f in fractions) or sum(fractions) != 1:
            raise ValueError(f"shares must be positive and add up to 1: {shares}")
        steps = tuple(ticks) if ticks is not None else tuple(range(len(fractions)))
        if len(steps) != len(fractions):
            raise ValueError("one tick offset per share")
        return cls(fractions, steps, expire_remainder)

    def parts(self, quantity: Decimal, step: Decimal) -> list[tuple[Decimal, int]]:
        """(quantity, ticks) of each trade; a share that rounds to nothing is dropped."""
        if self.equal:
            count = max(1, min(self.equal, int(quantity / step)))
            size = (quantity / count // step) * step
            sizes = [size] * (count - 1) + [quantity - size * (count - 1)]
            return [(q, 0) for q in sizes if q > 0]
        out: list[tuple[Decimal, int]] = []
        left = quantity
        for index, (share, ticks) in enumerate(zip(self.shares, self.ticks, strict=True)):
            last = index == len(self.shares) - 1
            part = left if last else min(left, (quantity * share // step) * step)
            if part > 0:
                out.append((part, ticks))
                left -= part
        return out


def trade_price(market: Decimal, ticks: int, tick_size: Decimal, side: str) -> Decimal:
    """`ticks` worse than `market` for the taker: above it for a buy, below it for a sell (never below one tick)."""
    if side == "BUY":
        return market + ticks * tick_size
    return max(tick_size, market - ticks * tick_size)


def select_trades(trades: Sequence[dict[str, Any]], params: dict[str, str], now: int) -> list[dict[str, Any]]:
    """The rows of one symbol's `trades` (ascending by id) that userTrades answers with these parameters."""
    limit = _int(params, "limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, -1130, "Data sent for parameter 'limit' is not valid.")
    start, end, from_id = _int(params, "startTime"), _int(params, "endTime"), _int(params, "fromId")
    if from_id is not None and (start is not None or end is not None):
        raise ApiError(400, -1128, "Combination of optional parameters invalid.")
    if start is not None and end is not None:
        if end < start:
            raise ApiError(400, -1128, "Combination of optional parameters invalid.")
        if end - start > WEEK_MS:
            raise ApiError(400, -1127, "More than 168 hours between startTime and endTime.")
    elif start is not None:
        end = start + WEEK_MS
    elif end is not None:
        start = end - WEEK_MS
    order_id = _int(params, "orderId")
    most_recent = start is None and from_id is None and order_id is None
    if most_recent:
        start, end = now - WEEK_MS, now
    rows = [
        t
        for t in trades
        if (order_id is None or t["orderId"] == order_id)
        and (from_id is None or t["id"] >= from_id)
        and (start is None or t["time"] >= start)
        and (end is None or t["time"] <= end)
    ]
    return rows[-limit:] if most_recent else rows[:limit]


def _int(params: dict[str, str], name: str, default: int | None = None) -> Any:
    if name not in params:
        return default
    try:
        return int(params[name])
    except ValueError:
        raise ApiError(
            400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        ) from None
