"""What an exchange says of a market: closed candles and a symbol's trading rules, and how the candles of
several symbols merge into time steps.

Both the exchange adapters and the actors use these; the actors' messages carry them.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from itertools import groupby
from operator import attrgetter


@dataclass(frozen=True, slots=True, kw_only=True)
class Candle:
    """A closed candle; `open_time` in UTC milliseconds."""

    symbol: str
    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    interval_ms: int = 60_000

    @property
    def close_time(self) -> int:
        return self.open_time + self.interval_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolFilters:
    """A symbol's trading rules (Binance PRICE_FILTER, LOT_SIZE, MIN_NOTIONAL), from the exchange."""

    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if self.tick_size <= 0 or self.step_size <= 0:
            raise ValueError("tick_size and step_size must be positive")
        if self.min_qty < 0 or self.min_notional < 0:
            raise ValueError("min_qty and min_notional cannot be negative")

    def round_price(self, price: Decimal, *, up: bool) -> Decimal:
        """Round to the tick; the caller picks the direction that is conservative for it."""
        mode = ROUND_CEILING if up else ROUND_FLOOR
        return (price / self.tick_size).to_integral_value(mode) * self.tick_size


_open_time = attrgetter("open_time")


def merge_by_time(streams: Iterable[Iterable[Candle]]) -> Iterator[tuple[Candle, ...]]:
    """Merge time-ordered candle streams into per-open-time batches; within a batch,
    candles keep the order of their streams (heapq.merge is stable)."""
    for _, group in groupby(heapq.merge(*streams, key=_open_time), key=_open_time):
        yield tuple(group)


def to_decimal(value: Decimal | float | str) -> Decimal:
    """An exact Decimal of a price or quantity; a float goes through its shortest repr, so 0.015 stays 0.015,
    not its binary expansion."""
    return value if isinstance(value, Decimal) else Decimal(str(value))
