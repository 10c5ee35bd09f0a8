"""Each symbol's recent candles and indicators, handed to strategies as read-only `Window`s. Pure.

The arrays are kept at least twice as long as the longest window wanted, so a closed candle costs one write per field. A
window is a read-only view, and a slot once written is never written again: when the arrays are full, the last
candles move into new arrays and the old ones stay as they are, so a strategy that keeps a window keeps what it was
given (and a window costs no copy).
"""

from __future__ import annotations

import numpy as np

from actors.messages import Candle, MarketSnapshot
from actors.signals.strategy import Window

_FLOATS = ("open", "high", "low", "close", "volume", "atr", "atr_pct")
SPARE = 512
_LABEL = "<U16"  # the longest regime or volatility level, TRENDING_DOWN, fits


class SymbolHistory:
    """The last `capacity` candles of one symbol with their snapshots."""

    def __init__(self, symbol: str, capacity: int) -> None:
        self.symbol = symbol
        self.capacity = capacity
        size = max(2 * capacity, capacity + SPARE)  # new arrays every `size - capacity + 1` candles
        self.count = 0  # candles seen
        self._end = 0  # next slot to write
        self._time = np.zeros(size, dtype=np.int64)
        self._floats = tuple(np.zeros(size, dtype=np.float64) for _ in _FLOATS)
        self._regime = np.zeros(size, dtype=_LABEL)
        self._volatility = np.zeros(size, dtype=_LABEL)
        self._frozen = self._freeze()
        self._interval_ms = 0
        self._at = 0

    def _freeze(self) -> tuple[np.ndarray, ...]:
        """Read-only views of the arrays, made once: every slice of one is read-only too, so a window costs
        slicing only."""
        views = []
        for array in (self._time, self._regime, self._volatility, *self._floats):
            view = array.view()
            view.flags.writeable = False
            views.append(view)
        return tuple(views)

    def push(self, candle: Candle, snapshot: MarketSnapshot) -> None:
        if self._end == len(self._time):
            self._move_to_new_arrays()
        i = self._end
        self._time[i] = candle.open_time
        opens, highs, lows, closes, volumes, atrs, atr_pcts = self._floats
        opens[i] = candle.open
        highs[i] = candle.high
        lows[i] = candle.low
        closes[i] = candle.close
        volumes[i] = candle.volume
        atrs[i] = snapshot.atr
        atr_pcts[i] = snapshot.atr_pct
        self._regime[i] = snapshot.regime
        self._volatility[i] = snapshot.volatility
        self._end += 1
        self.count += 1
        self._interval_ms = candle.interval_ms
        self._at = candle.close_time

    def _move_to_new_arrays(self) -> None:
        keep = slice(self._end - (self.capacity - 1), self._end)
        size = len(self._time)

        def moved(array: np.ndarray) -> np.ndarray:
            new = np.zeros(size, dtype=array.dtype)
            new[: self.capacity - 1] = array[keep]
            return new

        self._time, self._regime, self._volatility = moved(self._time), moved(self._regime), moved(self._volatility)
        self._floats = tuple(moved(array) for array in self._floats)
        self._frozen = self._freeze()
        self._end = self.capacity - 1

    def window(self, length: int) -> Window | None:
        """The last `length` candles (at most `capacity`), or None while fewer have closed."""
        if length > min(self.count, self.capacity):
            return None
        part = slice(self._end - length, self._end)
        time, regime, volatility, opens, highs, lows, closes, volumes, atrs, atr_pcts = self._frozen
        return Window(
            symbol=self.symbol,
            interval_ms=self._interval_ms,
            at=self._at,
            time=time[part],
            regime=regime[part],
            volatility=volatility[part],
            open=opens[part],
            high=highs[part],
            low=lows[part],
            close=closes[part],
            volume=volumes[part],
            atr=atrs[part],
            atr_pct=atr_pcts[part],
        )
