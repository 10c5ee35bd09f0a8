"""The strategies one signals actor runs: each symbol's history, each strategy's runner, and what they said. Pure."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from actors.messages import Signal, Step
from actors.signals.loading import LoadedStrategy
from actors.signals.runner import StrategyFault, StrategyRunner
from actors.signals.windows import SymbolHistory


class Lineup:
    """Feed it every step's candles; it hands each strategy the window of each symbol it wants, in the step's order
    of candles and the configured order of strategies (so a replay gives the same signals in the same order)."""

    def __init__(
        self,
        loaded: Sequence[LoadedStrategy],
        *,
        budget_ms: float,
        max_failures: int,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.runners = [
            StrategyRunner(item, budget_ms=budget_ms, max_failures=max_failures, timer=timer) for item in loaded
        ]
        self.capacity = 1
        self.histories: dict[str, SymbolHistory] = {}
        # Per symbol seen: its history and the runners that want it and are not disabled, in the configured order.
        # Asked on every candle, so kept; made again when a runner is disabled.
        self._feeds: dict[str, tuple[SymbolHistory, tuple[StrategyRunner, ...]]] = {}
        # Why trading pauses: the disabled strategies and their errors, or "". A strategy is disabled only with a
        # fault that says so, and then this is taken again.
        self.hold = ""

    def start(self, at: int) -> list[StrategyFault]:
        """Make every strategy; the faults of those that could not be made (they are disabled)."""
        faults = [fault for runner in self.runners if (fault := runner.start(at)) is not None]
        self._held()
        self.capacity = max((runner.history for runner in self.runners if not runner.disabled), default=1)
        return faults

    def on_step(self, step: Step) -> tuple[list[Signal], list[StrategyFault]]:
        signals: list[Signal] = []
        faults: list[StrategyFault] = []
        feeds = self._feeds
        for candle, snapshot in zip(step.candles, step.snapshots, strict=True):
            feed = feeds.get(candle.symbol)
            if feed is None:
                feed = self._feed(candle.symbol)
            history, runners = feed
            history.push(candle, snapshot)
            for runner in runners:
                window = history.window(runner.history)
                if window is None:
                    continue
                found, fault = runner.on_window(window)
                if found:
                    signals.extend(found)
                if fault is not None:
                    faults.append(fault)
                    if fault.disabled:
                        self._held()
        return signals, faults

    def _feed(self, symbol: str) -> tuple[SymbolHistory, tuple[StrategyRunner, ...]]:
        history = self.histories.get(symbol)
        if history is None:
            history = self.histories[symbol] = SymbolHistory(symbol, self.capacity)
        feed = self._feeds[symbol] = (history, tuple(runner for runner in self.runners if runner.wants(symbol)))
        return feed

    def _held(self) -> None:
        self.hold = "; ".join(runner.disabled for runner in self.runners if runner.disabled)
        self._feeds.clear()  # the disabled runners leave them
