"""Each symbol's recent candles and indicators, handed to strategies as read-only `Window`s. Pure.

The arrays are kept twice as long as the longest window wanted and shifted back when full, so a closed candle costs
one write per field; a window is a copy, so a strategy that keeps one keeps what it was given.
"""

from __future__ import annotations

import numpy as np

from actors.messages import Candle, MarketSnapshot
from actors.signals.strategy import Window

_FLOATS = ("open", "high", "low", "close", "volume", "atr", "atr_pct")
_LABEL = "<U16"  # the longest regime or volatility level, TRENDING_DOWN, fits


class SymbolHistory:
    """The last `capacity` candles of one symbol with their snapshots."""

    def __init__(self, symbol: str, capacity: int) -> None:
        self.symbol = symbol
        self.capacity = capacity
        size = 2 * capacity
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
            keep = self.capacity - 1
            for array in (self._time, self._regime, self._volatility, *self._floats.values()):
                array[:keep] = array[self._end - keep : self._end]
            self._end = keep
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

    def window(self, length: int) -> Window | None:
        """The last `length` candles (at most `capacity`), or None while fewer have closed."""
        if length > min(self.count, self.capacity):
            return None
        part = slice(self._end - length, self._end)

        def frozen(array: np.ndarray) -> np.ndarray:
            copy = array[part].copy()
            copy.flags.writeable = False
            return copy

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
