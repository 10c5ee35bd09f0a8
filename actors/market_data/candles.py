"""Candle cleaning: bad candles are dropped or repaired by a fixed rule, counted, never raised.

Rules, checked in this order (the first that drops a candle is the one counted):

| kind | rule | why |
| --- | --- | --- |
| `wrong_symbol` | dropped | a cleaner guards one symbol's sequence |
| `non_finite` | NaN/inf in time, price or volume: dropped | nothing to repair from |
| `non_positive_price` | any of open/high/low/close <= 0: dropped | no market trades at 0 |
| `negative_volume` | dropped | a corrupt row; its prices are not trusted either |
| `duplicate` | same open_time as the last accepted candle: dropped (the first wins) | a re-sent candle must not count twice in the ATR |
| `out_of_order` | open_time before the last accepted one: dropped | indicators are causal |
| `high_below_low` | repaired: high and low swapped | the usual cause is swapped columns |
| `open_close_outside` | repaired: high = max(high, open, close), low = min(low, open, close) | open and close are traded prices; the extremes are derived from them |
| `gaps` / `missing_candles` | accepted; one gap counted, and the missing intervals | filling them would invent flat candles that fake low volatility |
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from actors.messages import Candle


@dataclass(slots=True)
class CandleCounters:
    """How many candles of each kind a cleaner saw."""

    accepted: int = 0
    wrong_symbol: int = 0
    non_finite: int = 0
    non_positive_price: int = 0
    negative_volume: int = 0
    duplicate: int = 0
    out_of_order: int = 0
    high_below_low: int = 0
    open_close_outside: int = 0
    gaps: int = 0
    missing_candles: int = 0

    @property
    def dropped(self) -> int:
        return (
            self.wrong_symbol
            + self.non_finite
            + self.non_positive_price
            + self.negative_volume
            + self.duplicate
            + self.out_of_order
        )

    @property
    def repaired(self) -> int:
        return self.high_below_low + self.open_close_outside

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __add__(self, other: CandleCounters) -> CandleCounters:
        return CandleCounters(**{name: value + getattr(other, name) for name, value in self.as_dict().items()})


class CandleCleaner:
    """Cleans one symbol's candle sequence; `accept` returns the (possibly repaired) candle or None."""

    def __init__(self, symbol: str | None = None) -> None:
        self.symbol = symbol  # None: adopt the first candle's symbol
        self.counters = CandleCounters()
        self.last_open_time: int | None = None

    def accept(self, candle: Candle) -> Candle | None:
        c = self.counters
        if self.symbol is None:
            self.symbol = candle.symbol
        elif candle.symbol != self.symbol:
            c.wrong_symbol += 1
            return None
        o, h, l, cl, v = candle.open, candle.high, candle.low, candle.close, candle.volume
        # isfinite also refuses a non-numeric time that slipped past a parser
        if not (_finite(o) and _finite(h) and _finite(l) and _finite(cl) and _finite(v) and _finite(candle.open_time)):
            c.non_finite += 1
            return None
        if o <= 0 or h <= 0 or l <= 0 or cl <= 0:
            c.non_positive_price += 1
            return None
        if v < 0:
            c.negative_volume += 1
            return None
        last = self.last_open_time
        if last is not None:
            if candle.open_time == last:
                c.duplicate += 1
                return None
            if candle.open_time < last:
                c.out_of_order += 1
                return None
            step = candle.interval_ms
            if step > 0 and candle.open_time - last > step:
                c.gaps += 1
                c.missing_candles += (candle.open_time - last) // step - 1
        if h < l:
            c.high_below_low += 1
            h, l = l, h
        if not (l <= o <= h and l <= cl <= h):
            c.open_close_outside += 1
            h, l = max(h, o, cl), min(l, o, cl)
        if h != candle.high or l != candle.low:
            candle = replace(candle, high=h, low=l)
        self.last_open_time = candle.open_time
        c.accepted += 1
        return candle


def _finite(x: float | int) -> bool:
    try:
        return math.isfinite(x)
    except TypeError:
        return False


class MarketCleaner:
    """One `CandleCleaner` per symbol, made on first sight."""

    def __init__(self) -> None:
        self.cleaners: dict[str, CandleCleaner] = {}

    def accept(self, candle: Candle) -> Candle | None:
        cleaner = self.cleaners.get(candle.symbol)
        if cleaner is None:
            cleaner = self.cleaners[candle.symbol] = CandleCleaner(candle.symbol)
        return cleaner.accept(candle)

    def accept_batch(self, candles: tuple[Candle, ...]) -> tuple[Candle, ...]:
        return tuple(c for c in map(self.accept, candles) if c is not None)

    @property
    def counters(self) -> CandleCounters:
        total = CandleCounters()
        for cleaner in self.cleaners.values():
            total = total + cleaner.counters
        return total
