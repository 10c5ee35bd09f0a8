"""The strategy interface: what a user's Python strategy implements, and what it is given. Pure.

A strategy is a class derived from `Strategy` that declares

* `name`: 1 to 16 characters of `[a-z0-9_-]`, starting with a letter; it names the strategy in the settings
  (`[signals.params.NAME]`), in every signal and decision it leads to, and in reports;
* `symbols`: the symbols it wants (empty: every symbol the service trades);
* `timeframe`: the candle interval it wants, such as "1m" or "1h" (None: whatever the feed gives);
* `history`: how many candles its window holds; it is first called once that many candles of a symbol closed (a
  class attribute, or set on the instance in `__init__` when it depends on the parameters: at most 10,000);
* `Params`: its parameters as a pydantic model (every field with a default); the settings' `[signals.params.NAME]`
  table is validated against it, unknown keys refused.

The service makes one instance per start with the validated parameters (`self.params`), then calls
`on_candle(window)` on every closed candle of each symbol it wants, in time order. The window is read-only numpy
arrays of the last `history` candles of that symbol, the market-data actor's indicators beside them, and the candle's
close time: a strategy sees nothing else (no exchange, no database, no clock). It returns zero or more
`StrategySignal`s (a list, a tuple, a generator or None); the policy engine, risk, exits and execution treat them like
any other signal, recording this strategy's name as their source.

A call that raises, returns anything else, or takes longer than `signals.strategy_budget_ms` has its output dropped
and the reason recorded; after `signals.strategy_max_failures` failed candles among its last 100 it is disabled
(until the service restarts) and the trading gate pauses, naming it and its error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Generic, Protocol, TypeVar, overload

import numpy as np
from pydantic import BaseModel, ConfigDict

from actors.messages import Regime, Side, VolatilityLevel

__all__ = [
    "NAME_PATTERN",
    "NoParams",
    "Regime",
    "Side",
    "Strategy",
    "StrategySignal",
    "VolatilityLevel",
    "Window",
    "timeframe_ms",
]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")  # ids carry it: positions.signal_id holds 64
MAX_NOTE = 200
_TIMEFRAME = re.compile(r"^([1-9][0-9]{0,3})([mhd])$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def timeframe_ms(timeframe: str) -> int | None:
    """ "15m", "1h", "1d" in milliseconds; None when it is not such a timeframe."""
    match = _TIMEFRAME.match(timeframe) if isinstance(timeframe, str) else None
    return int(match[1]) * _UNIT_MS[match[2]] if match else None


class NoParams(BaseModel):
    """The parameters of a strategy that has none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Columns(Protocol):
    """Where a window's arrays come from: `read(index, end, length)` is the array of column `index` (in the order of
    `Window.COLUMNS`) over the `length` rows before row `end`."""

    def read(self, index: int, end: int, length: int) -> np.ndarray: ...

    def last(self, index: int, end: int) -> float | int | str:
        """Column `index` at row `end - 1`, as a Python value."""
        ...


class _Given:
    """The arrays a window was made with, handed out as they are."""

    __slots__ = ("arrays",)

    def __init__(self, arrays: tuple[np.ndarray, ...]) -> None:
        self.arrays = arrays

    def read(self, index: int, end: int, length: int) -> np.ndarray:
        return self.arrays[index]

    def last(self, index: int, end: int) -> float | int | str:
        value: float | int | str = self.arrays[index][-1].item()
        return value


class _Column:
    """One of a window's arrays, taken from its columns when the strategy reads it: most strategies read two or three
    of the ten, and a window is made for every candle. Read-only: a window has no setter."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    @overload
    def __get__(self, window: None, owner: type[Window]) -> _Column: ...

    @overload
    def __get__(self, window: Window, owner: type[Window]) -> np.ndarray: ...

    def __get__(self, window: Window | None, owner: type[Window]) -> np.ndarray | _Column:
        if window is None:
            return self
        return window._columns.read(self.index, window._end, window._length)


class Window:
    """The last `len(window)` closed candles of one symbol, oldest first; every array read-only.

    `time`: open times (UTC ms, int64); `open`, `high`, `low`, `close`, `volume`, `atr` (Wilder's, price units) and
    `atr_pct` (a fraction of the close): float64; `regime` and `volatility`: the market-data actor's labels as
    strings (compare them with `Regime.TRENDING_UP`, `VolatilityLevel.EXTREME`). `at`: the close time of the last
    candle, the only clock a strategy has.

    Made with every array given by keyword (a test, a tool), or by the signals actor with `Window.over` a symbol's
    history, whose arrays are taken only when the strategy reads them."""

    COLUMNS = ("time", "open", "high", "low", "close", "volume", "atr", "atr_pct", "regime", "volatility")
    __slots__ = ("_at", "_columns", "_end", "_interval_ms", "_length", "_symbol")

    def __init__(
        self,
        *,
        symbol: str,
        interval_ms: int,
        at: int,
        time: np.ndarray,
        open: np.ndarray,
        high: np.ndarray,
        low: np.ndarray,
        close: np.ndarray,
        volume: np.ndarray,
        atr: np.ndarray,
        atr_pct: np.ndarray,
        regime: np.ndarray,
        volatility: np.ndarray,
    ) -> None:
        self._symbol = symbol
        self._interval_ms = interval_ms
        self._at = at
        self._columns: Columns = _Given((time, open, high, low, close, volume, atr, atr_pct, regime, volatility))
        self._end = self._length = len(close)

    @staticmethod
    def over(columns: Columns, symbol: str, interval_ms: int, at: int, end: int, length: int) -> Window:
        """The window of the `length` rows of `columns` before row `end`, whose last candle closes `at`.

        Made for every candle and strategy: positional arguments and no `__init__`, at half the cost of keywords."""
        window: Window = _new_window(Window)
        window._symbol = symbol
        window._interval_ms = interval_ms
        window._at = at
        window._columns = columns
        window._end = end
        window._length = length
        return window

    @property
    def symbol(self) -> str:
        return self._symbol

    @property
    def interval_ms(self) -> int:
        return self._interval_ms

    @property
    def at(self) -> int:
        return self._at

    time = _Column(0)
    open = _Column(1)
    high = _Column(2)
    low = _Column(3)
    close = _Column(4)
    volume = _Column(5)
    atr = _Column(6)
    atr_pct = _Column(7)
    regime = _Column(8)
    volatility = _Column(9)

    def last(self, column: str) -> float | int | str:
        """`column` at the window's last candle as a Python value (a float; an int for `time`, a string for `regime`
        and `volatility`): what `window.<column>[-1]` holds, without taking the array. A strategy that keeps its
        own state and reads only the candle that just closed needs nothing else."""
        try:
            index = _COLUMN_INDEX[column]
        except KeyError:
            raise ValueError(f"a window has no column {column!r}; its columns are {', '.join(self.COLUMNS)}") from None
        return self._columns.last(index, self._end)

    def __len__(self) -> int:
        return self._length

    def __repr__(self) -> str:
        return f"Window(symbol={self._symbol!r}, at={self._at}, len={self._length})"


_COLUMN_INDEX = {name: index for index, name in enumerate(Window.COLUMNS)}
_new_window = object.__new__


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategySignal:
    """A trading idea: go `side` on `symbol` with `confidence` in [0, 1]; `note` (at most 200 characters) is logged
    with it."""

    symbol: str
    side: Side
    confidence: float
    note: str = ""


P = TypeVar("P", bound=BaseModel)


class Strategy(Generic[P]):
    """Base class of every strategy; see the module's docstring for the contract."""

    name: ClassVar[str] = ""
    symbols: ClassVar[tuple[str, ...]] = ()
    timeframe: ClassVar[str | None] = None
    history: int = 1  # a class attribute, or set in __init__ from the parameters
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, params: P) -> None:
        self.params = params

    def on_candle(self, window: Window) -> Iterable[StrategySignal] | None:
        raise NotImplementedError
