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
        self._floats = {name: np.zeros(size, dtype=np.float64) for name in _FLOATS}
        self._regime = np.zeros(size, dtype=_LABEL)
        self._volatility = np.zeros(size, dtype=_LABEL)
        self._interval_ms = 0
        self._at = 0

    def push(self, candle: Candle, snapshot: MarketSnapshot) -> None:
        if self._end == len(self._time):
            self._move_to_new_arrays()
        i = self._end
        self._time[i] = candle.open_time
        values = (candle.open, candle.high, candle.low, candle.close, candle.volume, snapshot.atr, snapshot.atr_pct)
        for name, value in zip(_FLOATS, values, strict=True):
            self._floats[name][i] = value
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
        self._floats = {name: moved(array) for name, array in self._floats.items()}
        self._end = self.capacity - 1

    def window(self, length: int) -> Window | None:
        """The last `length` candles (at most `capacity`), or None while fewer have closed."""
        if length > min(self.count, self.capacity):
            return None
        part = slice(self._end - length, self._end)

        def frozen(array: np.ndarray) -> np.ndarray:
            view = array[part]
            view.flags.writeable = False
            return view

        floats = {name: frozen(array) for name, array in self._floats.items()}
        return Window(
            symbol=self.symbol,
            interval_ms=self._interval_ms,
            at=self._at,
            time=frozen(self._time),
            regime=frozen(self._regime),
            volatility=frozen(self._volatility),
            **floats,
        )
