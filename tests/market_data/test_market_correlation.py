"""Return correlation between symbols by rolling sums, against numpy's corrcoef over each step's windows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.market_data.correlation import ReturnWindow, RollingCorrelations
from actors.messages import Candle


def candle(symbol: str, step: int, close: float) -> Candle:
    return Candle(symbol=symbol, open_time=step * 60_000, open=close, high=close, low=close, close=close, volume=1.0)


def reference(closes: dict[str, list[float]], window: int) -> tuple[tuple[str, str, float], ...]:
    """The rule of correlation.py computed directly: each symbol's last `window` returns, paired from the end."""
    returns = {s: np.array([math.log(b / a) for a, b in zip(c, c[1:])][-window:]) for s, c in closes.items()}
    returns = {s: r for s, r in returns.items() if len(r) == window}
    varying = sorted(s for s, r in returns.items() if np.ptp(r) > 0)
    return tuple(
        (a, b, float(np.corrcoef(returns[a], returns[b])[0, 1]))
        for i, a in enumerate(varying)
        for b in varying[i + 1 :]
    )


def assert_same(got: tuple[tuple[str, str, float], ...], want: tuple[tuple[str, str, float], ...]) -> None:
    assert [pair[:2] for pair in got] == [pair[:2] for pair in want]
    for (_, _, rho), (_, _, expected) in zip(got, want, strict=True):
        assert rho == pytest.approx(expected, abs=1e-12)


def feed(steps: list[dict[str, float]], window: int) -> None:
    """Feed the steps one at a time, checking every step against the reference."""
    rolling = RollingCorrelations(window)
    closes: dict[str, list[float]] = {}
    for i, step in enumerate(steps):
        rolling.update([candle(symbol, i, close) for symbol, close in sorted(step.items())])
        for symbol, close in step.items():
            closes.setdefault(symbol, []).append(close)
        assert_same(rolling.pairs(), reference(closes, window))


def walk(rng: np.random.Generator, steps: int, symbols: int, shared: float = 0.5) -> list[dict[str, float]]:
    market = rng.normal(0, 0.01, steps)
    paths = [100 * np.exp(np.cumsum(shared * market + rng.normal(0, 0.01, steps))) for _ in range(symbols)]
    return [{f"S{j}": float(path[i]) for j, path in enumerate(paths)} for i in range(steps)]


def test_rolling_correlations_match_corrcoef_every_step_after_many_windows() -> None:
    feed(walk(np.random.default_rng(1), 600, 3), window=40)


def test_rolling_correlations_stay_exact_over_a_long_run() -> None:
    rng = np.random.default_rng(2)
    steps = walk(rng, 30_000, 2, shared=1.0)
    rolling = RollingCorrelations(120)
    closes: dict[str, list[float]] = {"S0": [], "S1": []}
    for i, step in enumerate(steps):
        rolling.update([candle(symbol, i, close) for symbol, close in step.items()])
        for symbol, close in step.items():
            closes[symbol].append(close)
    assert_same(rolling.pairs(), reference(closes, 120))
    assert 0.5 < rolling.pairs()[0][2] < 0.9


def test_rolling_correlations_need_a_full_window_of_returns() -> None:
    rolling = RollingCorrelations(20)
    steps = walk(np.random.default_rng(3), 21, 2)  # 20 returns
    for i, step in enumerate(steps[:20]):
        rolling.update([candle(s, i, c) for s, c in step.items()])
    assert rolling.pairs() == ()
    rolling.update([candle(s, 20, c) for s, c in steps[20].items()])
    ((a, b, rho),) = rolling.pairs()
    assert (a, b) == ("S0", "S1") and -1.0 <= rho <= 1.0


def test_rolling_correlations_constant_price_is_unknown_until_it_moves_again() -> None:
    rng = np.random.default_rng(4)
    moving = walk(rng, 80, 1)
    steps = [{"A": m["S0"], "B": 50.0, "C": m["S0"] * 2} for m in moving]
    steps += [{"A": m["S0"], "B": m["S0"], "C": m["S0"]} for m in walk(rng, 40, 1)]
    feed(steps, window=30)
    rolling = RollingCorrelations(30)
    for i, step in enumerate(steps[:80]):
        rolling.update([candle(s, i, c) for s, c in step.items()])
    assert rolling.pairs() == (("A", "C", pytest.approx(1.0)),)


def test_rolling_correlations_symbol_missing_steps_pairs_its_last_returns() -> None:
    steps = walk(np.random.default_rng(5), 300, 3)
    for i in (50, 51, 120, 200):
        del steps[i]["S1"]  # gaps in one symbol's file
    for i in range(250, 300):
        del steps[i]["S2"]  # a symbol whose file ends early keeps its last correlations
    feed(steps, window=30)


def test_rolling_correlations_many_symbols_all_pairs_sorted() -> None:
    steps = walk(np.random.default_rng(6), 200, 10)
    rolling = RollingCorrelations(120)
    for i, step in enumerate(steps):
        rolling.update([candle(s, i, c) for s, c in step.items()])
    pairs = rolling.pairs()
    assert len(pairs) == 45 and [p[:2] for p in pairs] == sorted(p[:2] for p in pairs)


@settings(max_examples=60, deadline=None)
@given(
    window=st.integers(2, 12),
    moves=st.lists(
        st.tuples(
            st.sampled_from([-0.02, 0.0, 0.0, 0.01, 0.013]) | st.floats(-0.05, 0.05),
            st.sampled_from([-0.01, 0.0, 0.02]) | st.floats(-0.05, 0.05),
            st.booleans(),
        ),
        min_size=1,
        max_size=60,
    ),
)
def test_rolling_correlations_match_corrcoef_on_any_moves(window: int, moves: list[tuple[float, float, bool]]) -> None:
    # Repeated moves make constant windows; the flag drops B from a step (a gap).
    a, b = 100.0, 100.0
    steps = []
    for move_a, move_b, b_present in moves:
        a, b = a * math.exp(move_a), b * math.exp(move_b)
        steps.append({"A": a, "B": b} if b_present else {"A": a})
    rolling = RollingCorrelations(window)
    closes: dict[str, list[float]] = {}
    for i, step in enumerate(steps):
        rolling.update([candle(s, i, c) for s, c in step.items()])
        for symbol, close in step.items():
            closes.setdefault(symbol, []).append(close)
        want = {pair[:2]: pair[2] for pair in reference(closes, window)}
        got = {pair[:2]: pair[2] for pair in rolling.pairs()}
        assert set(got) <= set(want)  # never a correlation for a constant window
        for pair, expected in want.items():
            if all(measurable(closes[symbol], window) for symbol in pair):
                assert got[pair] == pytest.approx(expected, abs=1e-9)
            elif pair in got:  # returns that differ by rounding alone: any value, or none, is as true
                assert -1.0 <= got[pair] <= 1.0


def measurable(closes: list[float], window: int) -> bool:
    """The window's returns vary by more than rounding can blur: their variance is at least 1e-6 of their mean
    square (rolling sums carry errors of about 1e-16 of the mean square per return, which this keeps below 1e-9 of
    the correlation)."""
    returns = np.array([math.log(b / a) for a, b in zip(closes, closes[1:])][-window:])
    return bool(returns.var() >= 1e-6 * float(np.mean(returns * returns)))


def test_return_window_holds_the_last_returns_oldest_first() -> None:
    window = ReturnWindow(3)
    assert window.push_close(100.0) is None
    for close in (110.0, 121.0, 100.0, 90.0):
        window.push_close(close)
    assert window.window() == pytest.approx([math.log(1.1), math.log(100 / 121), math.log(0.9)])
    assert window.total == pytest.approx(sum(window.window()))
    assert window.spread == pytest.approx(3 * float(np.var(window.window())))
    for _ in range(3):
        window.push_close(90.0)
    assert window.spread == 0.0  # a constant window (a flat price) has nothing to correlate
    with pytest.raises(ValueError):
        ReturnWindow(1)
