"""What an exchange says of a market: closed candles and a symbol's trading rules, and how the candles of
several symbols merge into time steps.

Both the exchange adapters and the actors use these; the actors' messages carry them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal


@dataclass(frozen=True, slots=True, kw_only=True, init=False)
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

    def __init__(
        self,
        *,
        symbol: str,
        open_time: int,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float,
        interval_ms: int = 60_000,
    ) -> None:
        # A replay makes one per symbol per time step: setting the slots through their descriptors costs half the
        # frozen dataclass's generated __init__ (object.__setattr__ by name). Still frozen: assigning later raises.
        s_symbol, s_open_time, s_open, s_high, s_low, s_close, s_volume, s_interval_ms = _CANDLE_SLOTS
        s_symbol(self, symbol)
        s_open_time(self, open_time)
        s_open(self, open)
        s_high(self, high)
        s_low(self, low)
        s_close(self, close)
        s_volume(self, volume)
        s_interval_ms(self, interval_ms)

    @property
    def close_time(self) -> int:
        return self.open_time + self.interval_ms


# The setters of Candle's slots, in the order of its fields (and of its __init__'s arguments).
_CANDLE_SLOTS = tuple(getattr(Candle, f.name).__set__ for f in fields(Candle))


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


def merge_by_time(streams: Iterable[Iterable[Candle]]) -> Iterator[tuple[Candle, ...]]:
    """Merge time-ordered candle streams into per-open-time batches; within a batch, candles keep the order of
    their streams.

    Each step looks at the next candle of every stream (a handful of symbols: a scan costs less than a heap)."""
    heads: list[tuple[Candle, Iterator[Candle]]] = []
    for stream in streams:
        iterator = iter(stream)
        first = next(iterator, None)
        if first is not None:
            heads.append((first, iterator))
    while heads:
        at = min([candle.open_time for candle, _ in heads])
        batch: list[Candle] = []
        ended = False
        for i, (candle, iterator) in enumerate(heads):
            if candle.open_time != at:
                continue
            following: Candle | None = candle
            while following is not None and following.open_time == at:
                batch.append(following)
                following = next(iterator, None)
            if following is None:
                ended = True
            else:
                heads[i] = (following, iterator)
        if ended:
            heads = [(candle, iterator) for candle, iterator in heads if candle.open_time != at]
        yield tuple(batch)


def to_decimal(value: Decimal | float | str) -> Decimal:
    """An exact Decimal of a price or quantity; a float goes through its shortest repr, so 0.015 stays 0.015,
    not its binary expansion."""
    return value if isinstance(value, Decimal) else Decimal(str(value))
