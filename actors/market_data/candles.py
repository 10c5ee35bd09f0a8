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

`CandleCleaner` applies them to one candle at a time (the market-data actor, on whatever a feed delivers);
`clean_rows` to a symbol's rows a slice at a time with numpy (a file replay), with the same result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

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
        # isfinite also refuses a non-numeric time that slipped past a parser (TypeError)
        isfinite = math.isfinite
        try:
            finite = isfinite(o) and isfinite(h) and isfinite(l) and isfinite(cl) and isfinite(v)
            finite = finite and isfinite(candle.open_time)
        except TypeError:
            finite = False
        if not finite:
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
        """The candles kept, repaired where needed, in their order."""
        kept = []
        for candle in candles:
            cleaner = self.cleaners.get(candle.symbol)
            if cleaner is None:
                cleaner = self.cleaners[candle.symbol] = CandleCleaner(candle.symbol)
            clean = cleaner.accept(candle)
            if clean is not None:
                kept.append(clean)
        return tuple(kept)

    @property
    def counters(self) -> CandleCounters:
        total = CandleCounters()
        for cleaner in self.cleaners.values():
            total = total + cleaner.counters
        return total


@dataclass(frozen=True, slots=True, kw_only=True)
class CleanRows:
    """What `clean_rows` kept of a symbol's rows."""

    index: np.ndarray  # positions of the accepted rows, increasing
    open_time: np.ndarray  # their open times
    ohlcv: np.ndarray  # their values, repaired, shape (len(index), 5)
    counters: CandleCounters
    last_open_time: int | None  # the last accepted open time, these rows' or before them: where the next rows go on


def clean_rows(
    open_time: np.ndarray, ohlcv: np.ndarray, interval_ms: np.ndarray | int, *, after: int | None = None
) -> CleanRows:
    """The rules of the module docstring over one symbol's rows in the order read (`open_time` int64 ms, `ohlcv`
    float (n, 5), `interval_ms` each row's interval or one for all): what `CandleCleaner.accept` keeps and counts,
    row by row, computed in one pass of array operations. `after`: the `last_open_time` of the rows these follow
    (a file cleaned a slice at a time is cleaned as if whole)."""
    counters = CandleCounters()
    finite = np.isfinite(ohlcv).all(axis=1)  # int64 times are always finite
    positive = (ohlcv[:, :4] > 0.0).all(axis=1)
    counters.non_finite = int(np.count_nonzero(~finite))
    counters.non_positive_price = int(np.count_nonzero(finite & ~positive))
    valid = finite & positive
    volume_ok = ohlcv[:, 4] >= 0.0
    counters.negative_volume = int(np.count_nonzero(valid & ~volume_ok))
    candidates = np.flatnonzero(valid & volume_ok)

    # The last accepted open time before a row is the latest time of the valid rows before it: any valid row later
    # than all those before it is accepted, and accepted times only rise.
    times = open_time[candidates]
    seen = times if after is None else np.concatenate((np.array([after], dtype=times.dtype), times))
    latest_before = np.maximum.accumulate(seen)[:-1]
    judged = times[len(times) - len(latest_before) :]  # every row after the first one ever seen
    later = np.ones(len(times), dtype=bool)
    later[len(times) - len(judged) :] = judged > latest_before
    counters.duplicate = int(np.count_nonzero(judged == latest_before))
    counters.out_of_order = int(np.count_nonzero(judged < latest_before))
    index = candidates[later]
    counters.accepted = len(index)

    every_row = len(index) == len(open_time)
    times = open_time if every_row else open_time[index]  # no copy of a clean file
    steps = np.broadcast_to(interval_ms, open_time.shape)[index]
    elapsed = np.diff(times, prepend=after) if after is not None else np.diff(times)
    steps = steps[len(steps) - len(elapsed) :]
    gap = (steps > 0) & (elapsed > steps)
    counters.gaps = int(np.count_nonzero(gap))
    counters.missing_candles = int((elapsed[gap] // steps[gap] - 1).sum())

    kept = ohlcv if every_row else ohlcv[index]
    o, h, l, c = kept[:, 0], kept[:, 1], kept[:, 2], kept[:, 3]
    swapped = h < l
    counters.high_below_low = int(np.count_nonzero(swapped))
    h, l = np.where(swapped, l, h), np.where(swapped, h, l)
    outside = ~((l <= o) & (o <= h) & (l <= c) & (c <= h))
    counters.open_close_outside = int(np.count_nonzero(outside))
    if counters.repaired:
        kept = kept.copy() if every_row else kept
        kept[:, 1] = np.where(outside, np.maximum(np.maximum(h, o), c), h)
        kept[:, 2] = np.where(outside, np.minimum(np.minimum(l, o), c), l)
    last = int(times[-1]) if len(times) else after
    return CleanRows(index=index, open_time=times, ohlcv=kept, counters=counters, last_open_time=last)
