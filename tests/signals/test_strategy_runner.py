"""The strategy runner on its own: what a strategy returns is checked, failures are counted over its last calls,
over-budget calls are dropped (a timer injected, so the timing is exact), windows are read-only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import pytest

from actors.messages import Candle
from actors.signals.runner import FAILURE_WINDOW, FaultKind, StrategyRunner
from actors.signals.strategy import Side, Strategy, StrategySignal, Window
from tests.signals.strategy_harness import loaded, run


def candles(count: int, symbol: str = "BTCUSDT") -> list[Candle]:
    closes = 100.0 + np.cumsum(np.random.default_rng(3).normal(0, 0.1, count))
    return [
        Candle(symbol=symbol, open_time=i * 60_000, open=c, high=c + 0.2, low=c - 0.2, close=c, volume=1.0)
        for i, c in enumerate(closes.tolist())
    ]


class Scripted(Strategy):
    """Returns, on candle i (counted from 0), whatever `SCRIPT[i]` says; nothing after the script."""

    name = "scripted"
    history = 3
    SCRIPT: ClassVar[dict[int, object]] = {}

    def __init__(self, params: object) -> None:
        super().__init__(params)  # type: ignore[arg-type]
        self.calls = 0
        self.windows: list[Window] = []

    def on_candle(self, window: Window) -> object:  # type: ignore[override]
        self.windows.append(window)
        self.calls += 1
        outcome = self.SCRIPT.get(self.calls - 1, [])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome() if callable(outcome) else outcome


def scripted(script: dict[int, object]) -> type[Scripted]:
    return type("Scripted", (Scripted,), {"SCRIPT": script})


def long(confidence: float = 0.7, symbol: str = "BTCUSDT", note: str = "") -> StrategySignal:
    return StrategySignal(symbol=symbol, side=Side.LONG, confidence=confidence, note=note)


def test_runner_first_call_once_history_full_windows_read_only_and_ids_deterministic() -> None:
    cls = scripted({0: [long(note="first")], 1: (long(0.4),)})
    signals, faults, lineup = run(candles(5), loaded(cls, ["BTCUSDT"]))
    strategy = lineup.runners[0].strategy
    assert isinstance(strategy, Scripted) and strategy.calls == 3  # candles 3, 4 and 5
    window = strategy.windows[0]
    assert len(window) == 3 and window.at == 3 * 60_000 and list(window.time) == [0, 60_000, 120_000]
    with pytest.raises(ValueError, match="read-only"):
        window.close[0] = 1.0
    assert faults == []
    assert [(s.id, s.at, s.confidence, s.source, s.note) for s in signals] == [
        ("strategy-scripted-BTCUSDT-120000", 180_000, 0.7, "scripted", "first"),
        ("strategy-scripted-BTCUSDT-180000", 240_000, 0.4, "scripted", ""),
    ]
    assert strategy.windows[2].close[-1] == candles(5)[-1].close  # each window ends at its own candle


def generator_that_raises() -> Iterator[StrategySignal]:
    yield long()
    raise KeyError("half way")


@pytest.mark.parametrize(
    ("outcome", "kind", "words"),
    [
        (RuntimeError("boom"), FaultKind.RAISED, "RuntimeError: boom"),
        (SystemExit(3), FaultKind.RAISED, "SystemExit: 3"),
        (generator_that_raises, FaultKind.RAISED, "KeyError: 'half way'"),
        ("LONG", FaultKind.GARBAGE, "returned 'LONG', not signals"),
        ("", FaultKind.GARBAGE, "returned '', not signals"),  # empty, but no list of signals
        ({}, FaultKind.GARBAGE, "returned {}, not signals"),
        (42, FaultKind.GARBAGE, "returned 42, not signals"),
        ([long(), "x"], FaultKind.GARBAGE, "returned 'x' among its signals"),
        ([long(float("nan"))], FaultKind.GARBAGE, "confidence nan is not a number in [0, 1]"),
        ([long(-0.1)], FaultKind.GARBAGE, "confidence -0.1 is not a number in [0, 1]"),
        ([long(symbol="ETHUSDT")], FaultKind.GARBAGE, "a signal for 'ETHUSDT', which it does not trade"),
        ([StrategySignal(symbol="BTCUSDT", side="UP", confidence=0.5)], FaultKind.GARBAGE, "side 'UP' is not"),  # type: ignore[arg-type]
        ([long(note="a\nb")], FaultKind.GARBAGE, "note 'a\\nb' is not printable text"),
        ([long()] * 101, FaultKind.GARBAGE, "more than 100 signals"),
    ],
)
def test_runner_bad_output_dropped_with_reason(outcome: object, kind: str, words: str) -> None:
    cls = scripted({0: outcome, 1: [long(0.5)]})
    signals, faults, _ = run(candles(4), loaded(cls, ["BTCUSDT"]))
    [fault] = faults
    assert (fault.strategy, fault.symbol, fault.kind, fault.disabled) == ("scripted", "BTCUSDT", kind, False)
    assert words in fault.detail
    assert [s.confidence for s in signals] == [0.5]  # the next candle's output goes on


def test_runner_over_budget_dropped_by_the_timer_then_disabled_over_its_last_calls() -> None:
    ticks = iter([0.0, 0.010, 1.0, 1.002, 2.0, 2.030, 3.0, 3.001, 4.0, 4.050])  # the 1st, 3rd, 5th calls are slow
    item = loaded(scripted({i: [long()] for i in range(10)}), ["BTCUSDT"])
    runner = StrategyRunner(item, budget_ms=5, max_failures=3, timer=lambda: next(ticks))
    assert runner.start(0) is None
    outcomes = [runner.on_window(window) for window in list(_windows(candles(7)))[2:]]
    kinds = [(len(signals), fault.kind if fault else None) for signals, fault in outcomes]
    assert kinds == [(0, "over_budget"), (1, None), (0, "over_budget"), (1, None), (0, "over_budget")]
    last = outcomes[-1][1]
    assert last is not None and last.disabled and "took 50 ms, over its budget of 5 ms" in last.detail
    assert runner.disabled.startswith("strategy scripted disabled after 3 failed candles of its last 5:")
    assert not runner.wants("BTCUSDT")


@pytest.mark.parametrize("nothing", [None, [], (), lambda: iter(()), np.array([])], ids=repr)
def test_runner_empty_output_says_nothing_and_is_no_fault(nothing: object) -> None:
    cls = scripted({0: nothing, 1: [long(0.5)]})
    signals, faults, _ = run(candles(4), loaded(cls, ["BTCUSDT"]))
    assert faults == [] and [s.confidence for s in signals] == [0.5]


def test_runner_failures_older_than_the_window_are_forgotten() -> None:
    script = {0: RuntimeError("a"), FAILURE_WINDOW + 1: RuntimeError("b")}
    _, faults, lineup = run(candles(FAILURE_WINDOW + 10), loaded(scripted(script), ["BTCUSDT"]), max_failures=2)
    assert [f.disabled for f in faults] == [False, False] and lineup.hold == ""


def _windows(items: list[Candle]) -> Iterator[Window]:
    for i in range(1, len(items) + 1):
        part = items[:i][-3:]
        arrays = {name: np.array([getattr(c, name) for c in part]) for name in ("open", "high", "low", "close")}
        yield Window(
            symbol="BTCUSDT",
            interval_ms=60_000,
            at=part[-1].close_time,
            time=np.array([c.open_time for c in part]),
            volume=np.ones(len(part)),
            atr=np.ones(len(part)),
            atr_pct=np.ones(len(part)),
            regime=np.array(["SIDEWAYS"] * len(part)),
            volatility=np.array(["NORMAL"] * len(part)),
            **arrays,
        )


def test_runner_timeframe_other_than_the_candles_disables_at_the_first_candle() -> None:
    hourly = type("Hourly", (Scripted,), {"SCRIPT": {0: [long()]}, "timeframe": "1h"})
    signals, faults, lineup = run(candles(5), loaded(hourly, ["BTCUSDT"]))
    [fault] = faults
    assert signals == [] and (fault.kind, fault.disabled) == (FaultKind.WRONG_TIMEFRAME, True)
    assert "wants 1h candles, the feed gives 1m ones" in fault.detail
    assert lineup.hold == f"strategy scripted disabled: {fault.detail}"


def test_lineup_strategy_disabled_on_one_symbol_is_not_called_on_the_next_the_others_are() -> None:
    """A strategy disabled on a step's first candle is not called for its later candles, nor in later steps; one
    configured after it still is, for every symbol."""
    failing = type("Failing", (Scripted,), {"name": "failing", "SCRIPT": {0: RuntimeError("boom")}})
    steady = type("Steady", (Scripted,), {"name": "steady", "SCRIPT": {}})
    both = ["BTCUSDT", "ETHUSDT"]
    items = sorted(candles(6) + candles(6, "ETHUSDT"), key=lambda c: c.open_time)  # BTC then ETH in each step
    _, faults, lineup = run(items, loaded(failing, both), loaded(steady, both), max_failures=1)
    [fault] = faults
    assert (fault.strategy, fault.symbol, fault.disabled) == ("failing", "BTCUSDT", True)
    first, second = (runner.strategy for runner in lineup.runners)
    assert isinstance(first, Scripted) and isinstance(second, Scripted)
    assert first.calls == 1
    assert [w.symbol for w in second.windows] == both * 4  # candles 3 to 6 of each symbol
    assert lineup.hold == f"strategy failing disabled after 1 failed candles of its last 1: {fault.detail}"
