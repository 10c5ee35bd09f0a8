"""Each symbol's recent candles and indicators, handed to strategies as read-only `Window`s. Pure.

A push keeps the candle and its snapshot; a column's array is written from them when a strategy first reads that
column (the built-in strategy reads two of the ten), one write per candle from then on. The rows are kept at least
twice as long as the longest window wanted. A slot once written is never written again: when the rows are full,
the last candles move into a new generation and the old one stays as it is, so a strategy that keeps a window keeps
what it was given (and a window costs no copy).
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np

from actors.messages import Candle, MarketSnapshot
from actors.signals.strategy import Window

SPARE = 512
_LABEL = "<U16"  # the longest regime or volatility level, TRENDING_DOWN, fits

# Per column of `Window.COLUMNS`: whether it is read from the snapshot (or the candle), the attribute, the dtype.
_SOURCES: dict[str, tuple[bool, str, str]] = {
    "time": (False, "open_time", "int64"),
    "open": (False, "open", "float64"),
    "high": (False, "high", "float64"),
    "low": (False, "low", "float64"),
    "close": (False, "close", "float64"),
    "volume": (False, "volume", "float64"),
    "atr": (True, "atr", "float64"),
    "atr_pct": (True, "atr_pct", "float64"),
    "regime": (True, "regime", _LABEL),
    "volatility": (True, "volatility", _LABEL),
}
_COLUMNS = tuple(
    (from_snapshot, attrgetter(name), dtype)
    for from_snapshot, name, dtype in (_SOURCES[column] for column in Window.COLUMNS)
)
# Per column: the Python type its array's items have (`Window.last` hands out one value of it, every candle).
_PYTHON_TYPE = {_LABEL: str, "int64": int, "float64": float}
_LAST = tuple((from_snapshot, value, _PYTHON_TYPE[dtype]) for from_snapshot, value, dtype in _COLUMNS)


class _Rows:
    """One generation of a symbol's rows: its candles and snapshots, and the arrays of the columns read so far, each
    written up to the last row a window of it was read to."""

    __slots__ = ("arrays", "candles", "size", "snapshots", "views", "written")

    def __init__(self, size: int, candles: list[Candle], snapshots: list[MarketSnapshot]) -> None:
        self.size = size
        self.candles = candles
        self.snapshots = snapshots
        self.arrays: list[np.ndarray | None] = [None] * len(_COLUMNS)
        self.views: list[np.ndarray | None] = [None] * len(_COLUMNS)  # read-only: so is every slice of one
        self.written = [0] * len(_COLUMNS)  # rows written in each array

    def read(self, index: int, end: int, length: int) -> np.ndarray:
        """Column `index` over the `length` rows before row `end`, read-only."""
        view = self.views[index]
        if view is None or self.written[index] < end:
            view = self._write(index, end)
        return view[end - length : end]

    def last(self, index: int, end: int) -> float | int | str:
        """Column `index` at row `end - 1`, from its candle or snapshot (the value its array would hold)."""
        from_snapshot, value, python_type = _LAST[index]
        found: float | int | str = python_type(value((self.snapshots if from_snapshot else self.candles)[end - 1]))
        return found

    def _write(self, index: int, end: int) -> np.ndarray:
        """Column `index` written up to row `end`; its read-only view."""
        from_snapshot, value, dtype = _COLUMNS[index]
        array, view = self.arrays[index], self.views[index]
        if array is None or view is None:
            array = self.arrays[index] = np.zeros(self.size, dtype=dtype)
            view = self.views[index] = array.view()
            view.flags.writeable = False
        start = self.written[index]
        rows = self.snapshots if from_snapshot else self.candles
        if end - start == 1:  # the usual case: one candle since the column was last read
            array[start] = value(rows[start])
        else:
            array[start:end] = [value(row) for row in rows[start:end]]
        self.written[index] = end
        return view

    def next_generation(self, keep: int) -> _Rows:
        """A new generation that starts with the last `keep` rows of this one."""
        start = len(self.candles) - keep
        return _Rows(self.size, self.candles[start:], self.snapshots[start:])


class SymbolHistory:
    """The last `capacity` candles of one symbol with their snapshots."""

    def __init__(self, symbol: str, capacity: int) -> None:
        self.symbol = symbol
        self.capacity = capacity
        self.count = 0  # candles seen
        size = max(2 * capacity, capacity + SPARE)  # a new generation every `size - capacity + 1` candles
        self._rows = _Rows(size, [], [])

    def push(self, candle: Candle, snapshot: MarketSnapshot) -> None:
        rows = self._rows
        if len(rows.candles) == rows.size:
            rows = self._rows = rows.next_generation(self.capacity - 1)
        rows.candles.append(candle)
        rows.snapshots.append(snapshot)
        self.count += 1

    def window(self, length: int) -> Window | None:
        """The last `length` candles (at most `capacity`), or None while fewer have closed."""
        if length > self.count or length > self.capacity:
            return None
        rows = self._rows
        last = rows.candles[-1]
        interval_ms = last.interval_ms
        return Window.over(rows, self.symbol, interval_ms, last.open_time + interval_ms, len(rows.candles), length)
