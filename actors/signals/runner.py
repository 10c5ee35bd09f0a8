"""Running user strategies in isolation: what they return checked, their failures counted, never raised. Pure.

One `StrategyRunner` per strategy. A candle's call fails when the strategy

* raises (also while its returned generator is read), or cannot even be made at start;
* returns garbage: anything but None or an iterable of `StrategySignal`s, a signal for a symbol it does not trade, a
  side other than LONG/SHORT, a confidence that is not a number in [0, 1], a note that is not a short printable text,
  more than `MAX_SIGNALS` signals at once;
* takes longer than its budget. A Python call cannot be stopped safely from outside, so it is timed: a call over
  the budget has run to its end, and its output is dropped as late. The budget is wall-clock time (the injected
  timer), so `replay` turns it off (virtual time waits for the strategy; a budget there would make two replays of
  the same candles differ with the machine's load).

A failed call's output is dropped and a `StrategyFault` says why. `max_failures` failed calls among its last
`FAILURE_WINDOW` calls disable the strategy until the service restarts (not only failures in a row: a strategy that
fails on every other candle is as broken); its `disabled` reason then names it and its last error.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

from actors.messages import Side, Signal
from actors.signals.loading import BUILTIN, MAX_HISTORY, LoadedStrategy, described_error, valid_history
from actors.signals.strategy import MAX_NOTE, Strategy, StrategySignal, Window, timeframe_ms

MAX_SIGNALS = 100  # per call: more is a loop gone wrong, not a trading idea
FAILURE_WINDOW = 100  # calls over which failures are counted


class FaultKind:
    RAISED = "raised"
    GARBAGE = "garbage"
    OVER_BUDGET = "over_budget"
    NOT_STARTED = "not_started"
    WRONG_TIMEFRAME = "wrong_timeframe"


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyFault:
    """Why one call's output was dropped (or why the strategy cannot run at all)."""

    at: int
    strategy: str
    symbol: str
    kind: str
    detail: str
    disabled: bool = False  # this fault disabled the strategy


class _Garbage(Exception):
    pass


def signal_id(strategy: str, symbol: str, open_time: int) -> str:
    """Deterministic, so a replay gives the same ids: one signal per strategy, symbol and candle. The built-in's
    ids are the ones it always had; the inbox refuses ids starting with `strategy-`."""
    prefix = BUILTIN if strategy == BUILTIN else f"strategy-{strategy}"
    return f"{prefix}-{symbol}-{open_time}"


class StrategyRunner:
    def __init__(
        self,
        loaded: LoadedStrategy,
        *,
        budget_ms: float,
        max_failures: int,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.loaded = loaded
        self.name = loaded.name
        self.budget_s = budget_ms / 1000
        self.max_failures = max_failures
        self.timer = timer
        self.failures: deque[int] = deque()  # the call numbers of its failures among the last FAILURE_WINDOW calls
        self.disabled = ""  # why it no longer runs, or ""
        self.calls = self.signals = self.faults = 0
        self._wanted_ms = timeframe_ms(loaded.cls.timeframe) if loaded.cls.timeframe else None
        self.strategy: Strategy[Any] | None = None
        self.history = 1  # the instance's, once made

    def start(self, at: int) -> StrategyFault | None:
        try:
            strategy = self.loaded.make()
        except (Exception, SystemExit) as error:  # sys.exit() in a strategy stops the strategy, not the service
            detail = f"could not be made: {_shown_text(described_error(error))}"
            return self._disable(at, "", FaultKind.NOT_STARTED, detail)
        if not valid_history(strategy.history):
            detail = f"history {_shown(strategy.history)} is not a whole number of candles from 1 to {MAX_HISTORY}"
            return self._disable(at, "", FaultKind.NOT_STARTED, detail)
        self.strategy = strategy
        self.history = strategy.history
        return None

    def wants(self, symbol: str) -> bool:
        return not self.disabled and symbol in self.loaded.symbols

    def on_window(self, window: Window) -> tuple[tuple[Signal, ...], StrategyFault | None]:
        """The call's signals, or none and the fault that dropped them."""
        assert self.strategy is not None
        if self._wanted_ms is not None and window.interval_ms != self._wanted_ms:
            detail = f"wants {self.loaded.cls.timeframe} candles, the feed gives {_timeframe(window.interval_ms)} ones"
            return (), self._disable(window.at, window.symbol, FaultKind.WRONG_TIMEFRAME, detail)
        self.calls += 1
        timed = self.budget_s > 0  # no budget (a replay): no call is timed
        started = self.timer() if timed else 0.0
        try:
            output = self.strategy.on_candle(window)
            # Most candles: nothing to say, most often as () or [] (read by `_read`) or None.
            items = () if output is None or (type(output) in _PLAIN and not output) else _read(output)
        except _Garbage as garbage:
            return (), self._failed(window, FaultKind.GARBAGE, str(garbage))
        except (Exception, SystemExit) as error:  # sys.exit() in a strategy stops the strategy, not the service
            return (), self._failed(window, FaultKind.RAISED, _shown_text(described_error(error)))
        if timed and (took := self.timer() - started) > self.budget_s:
            detail = f"took {took * 1000:.0f} ms, over its budget of {self.budget_s * 1000:g} ms: output dropped"
            return (), self._failed(window, FaultKind.OVER_BUDGET, detail)
        if not items:
            return (), None
        try:
            signals = tuple(self._signal(item, window) for item in items)
        except _Garbage as garbage:
            return (), self._failed(window, FaultKind.GARBAGE, str(garbage))
        self.signals += len(signals)
        return signals, None

    def _signal(self, item: StrategySignal, window: Window) -> Signal:
        if item.symbol not in self.loaded.symbols:
            raise _Garbage(f"a signal for {_shown(item.symbol)}, which it does not trade")
        try:
            side = Side(item.side)
        except ValueError:
            raise _Garbage(f"side {_shown(item.side)} is not LONG or SHORT") from None
        confidence = item.confidence
        if isinstance(confidence, bool) or not isinstance(confidence, Real) or not 0.0 <= float(confidence) <= 1.0:
            raise _Garbage(f"confidence {_shown(confidence)} is not a number in [0, 1]")
        note = item.note
        if not isinstance(note, str) or len(note) > MAX_NOTE or not note.isprintable():
            raise _Garbage(f"note {_shown(note)} is not printable text of at most {MAX_NOTE} characters")
        open_time = int(window.time[-1])
        return Signal(
            id=signal_id(self.name, item.symbol, open_time),
            at=window.at,
            symbol=item.symbol,
            side=side,
            confidence=float(confidence),
            source=self.name,
            note=note,
        )

    def _failed(self, window: Window, kind: str, detail: str) -> StrategyFault:
        self.failures.append(self.calls)
        while self.failures[0] <= self.calls - FAILURE_WINDOW:
            self.failures.popleft()
        if len(self.failures) >= self.max_failures:
            return self._disable(window.at, window.symbol, kind, detail)
        self.faults += 1
        return StrategyFault(at=window.at, strategy=self.name, symbol=window.symbol, kind=kind, detail=detail)

    def _disable(self, at: int, symbol: str, kind: str, detail: str) -> StrategyFault:
        self.faults += 1
        self.disabled = f"strategy {self.name} disabled: {detail}"
        if len(self.failures) >= self.max_failures:
            self.disabled = (
                f"strategy {self.name} disabled after {len(self.failures)} failed candles of its last "
                f"{min(self.calls, FAILURE_WINDOW)}: {detail}"
            )
        return StrategyFault(at=at, strategy=self.name, symbol=symbol, kind=kind, detail=detail, disabled=True)


_PLAIN = (tuple, list)  # the exact classes whose emptiness is read without a call


def _read(output: object) -> list[StrategySignal]:
    """The call's output as a list; reading a generator runs the strategy's code, so this is inside the timing."""
    if output is None:
        return []
    if isinstance(output, tuple | list):  # neither text nor a mapping: the checks against the ABCs are for the rest
        if not output:
            return []  # most candles: nothing to say
    elif isinstance(output, str | bytes | Mapping) or not isinstance(output, Iterable):
        raise _Garbage(f"returned {_shown(output)}, not signals (None, or a list of StrategySignal)")
    items: list[StrategySignal] = []
    for item in output:
        if not isinstance(item, StrategySignal):
            raise _Garbage(f"returned {_shown(item)} among its signals, not a StrategySignal")
        items.append(item)
        if len(items) > MAX_SIGNALS:
            raise _Garbage(f"returned more than {MAX_SIGNALS} signals for one candle")
    return items


def _timeframe(interval_ms: int) -> str:
    for unit, ms in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)):
        if interval_ms % ms == 0:
            return f"{interval_ms // ms}{unit}"
    return f"{interval_ms / 1000:g}s"


def _shown(value: object) -> str:
    text = ascii(value)
    if isinstance(value, float) and math.isnan(value):
        text = "nan"
    return text if len(text) <= 60 else text[:57] + "..."


def _shown_text(text: str) -> str:
    printable = "".join(ch if ch.isprintable() else "?" for ch in text)
    return printable if len(printable) <= 300 else printable[:297] + "..."
