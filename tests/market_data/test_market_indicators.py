"""Indicators: ATR, volatility level, regime, return correlation of two series; the incremental state against
the vectorised functions (correlation between symbols: test_market_correlation.py).

Uses real data from ../shared/data (the FTX BTC-PERP 1m file).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.market_data.indicators import IndicatorParams, PercentileWindow, SymbolIndicators, classify_regime
from actors.market_data.vectorised import (
    atr,
    atr_percent,
    choppiness_index,
    regimes,
    return_correlation,
    true_range,
    volatility_level,
    volatility_levels,
)
from actors.messages import Candle, Regime, VolatilityLevel

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
FTX = DATA / "candles" / "ftx_BTCPERP_1m_20211231-20220201.csv"


@pytest.fixture(scope="module")
def ftx() -> np.ndarray:
    rows = np.loadtxt(FTX, delimiter=",", skiprows=1)
    rows[:, 0] *= 1000  # the file's times are seconds
    return rows


def candles_from(rows: np.ndarray, symbol: str = "BTCPERP") -> list[Candle]:
    return [
        Candle(symbol=symbol, open_time=int(t), open=o, high=h, low=l, close=c, volume=v)
        for t, o, h, l, c, v in rows.tolist()
    ]


def series_candles(closes: list[float], wick: float = 0.5, symbol: str = "X") -> list[Candle]:
    out, previous = [], closes[0]
    for i, close in enumerate(closes):
        out.append(
            Candle(
                symbol=symbol,
                open_time=i * 60_000,
                open=previous,
                high=max(previous, close) + wick,
                low=min(previous, close) - wick,
                close=close,
                volume=1.0,
            )
        )
        previous = close
    return out


def test_true_range_gap_uses_previous_close() -> None:
    tr = true_range(np.array([10.0, 15.0]), np.array([9.0, 14.0]), np.array([9.5, 14.5]))
    assert tr.tolist() == [1.0, 5.5]  # second candle: high 15 - previous close 9.5


def test_atr_first_period_running_mean_then_wilder() -> None:
    high = np.array([11.0, 12.0, 13.0, 14.0])
    low = np.array([10.0, 10.0, 10.0, 10.0])
    close = np.array([10.5, 10.5, 10.5, 10.5])
    values = atr(high, low, close, period=2)
    # TRs 1, 2, 3, 4: running mean 1, 1.5; then Wilder (1.5*1 + 3)/2 = 2.25, (2.25 + 4)/2 = 3.125
    assert values.tolist() == [1.0, 1.5, 2.25, 3.125]


def test_atr_percent_is_fraction_of_close() -> None:
    assert atr_percent(np.array([50.0]), np.array([10_000.0])).tolist() == [0.005]


def test_volatility_level_short_history_is_normal() -> None:
    params = IndicatorParams(vol_min_history=100)
    assert volatility_level(1e9, np.arange(99.0), params) is VolatilityLevel.NORMAL


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (10.0, VolatilityLevel.LOW),
        (50.0, VolatilityLevel.NORMAL),
        (80.0, VolatilityLevel.HIGH),
        (96.5, VolatilityLevel.HIGH),
        (101.0, VolatilityLevel.EXTREME),
    ],
)
def test_volatility_level_percentile_bands_match_rule(current: float, expected: VolatilityLevel) -> None:
    # 96.5 ranks in the top 5% but is under twice the median (50): only HIGH.
    assert volatility_level(current, np.arange(100.0)) is expected


def test_volatility_level_constant_history_is_normal() -> None:
    assert volatility_level(1.0, np.ones(500)) is VolatilityLevel.NORMAL  # ties count half


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=80),
    st.integers(1, 30),
    st.floats(0, 1, allow_nan=False),
)
def test_percentile_window_rank_matches_brute_force(values: list[float], size: int, probe: float) -> None:
    window = PercentileWindow(size)
    for value in values:
        window.push(value)
    kept = np.array(values[-size:])
    expected = (np.count_nonzero(kept < probe) + np.count_nonzero(kept <= probe)) / (2 * len(kept))
    assert len(window) == len(kept)
    assert window.rank(probe) == pytest.approx(expected)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.sampled_from([0.1, 0.2, 0.3, math.nan]) | st.floats(0, 1, allow_nan=False), max_size=80),
    st.integers(1, 12),
)
def test_percentile_window_rank_and_push_is_rank_then_push(values: list[float], size: int) -> None:
    """Ties, the oldest value equal to the new one, NaN, and a full window: the insert at the rank's bisect keeps the
    last `size` values (NaN left out) in order, as a sort of them would."""
    combined, apart = PercentileWindow(size), PercentileWindow(size)
    kept: list[float] = []
    for value in values:
        rank, median = apart.rank(value), apart.median()
        apart.push(value)
        got_rank, got_median = combined.rank_and_push(value)
        assert got_rank == rank
        assert got_median == median or (math.isnan(got_median) and math.isnan(median))
        if not math.isnan(value):
            kept.append(value)
        assert combined._sorted == apart._sorted == sorted(kept[-size:])
        assert not combined._sorted or combined.median() == apart.median()


def test_percentile_window_nan_is_not_kept() -> None:
    window = PercentileWindow(3)
    window.push(math.nan)
    assert len(window) == 0


@pytest.mark.parametrize(
    ("slope_z", "chop", "expected"),
    [
        (2.0, 70.0, Regime.CHOPPY),
        (0.6, 40.0, Regime.TRENDING_UP),
        (-0.6, 40.0, Regime.TRENDING_DOWN),
        (0.2, 40.0, Regime.SIDEWAYS),
        (0.0, math.nan, Regime.SIDEWAYS),
    ],
)
def test_classify_regime_inputs_give_documented_regime(slope_z: float, chop: float, expected: Regime) -> None:
    assert classify_regime(slope_z, chop) is expected


def test_regimes_steady_rise_is_trending_up_after_warmup() -> None:
    closes = np.linspace(100, 200, 200)
    out = regimes(closes + 0.5, closes - 0.5, closes)
    assert set(out[: IndicatorParams().warmup - 1]) == {Regime.SIDEWAYS}
    assert out[-1] is Regime.TRENDING_UP


def test_symbol_indicators_falling_series_is_trending_down() -> None:
    state = SymbolIndicators("X")
    snapshots = [state.update(c) for c in series_candles([300 - i for i in range(200)])]
    assert snapshots[-1].regime is Regime.TRENDING_DOWN


def test_symbol_indicators_overlapping_candles_are_choppy() -> None:
    state = SymbolIndicators("X")
    closes = [100 + (1 if i % 2 else -1) for i in range(200)]  # whipsaw: big candles going nowhere
    candles = series_candles(closes, wick=3.0)
    snapshots = [state.update(c) for c in candles]
    assert snapshots[-1].regime is Regime.CHOPPY
    high, low, close = (np.array([getattr(c, name) for c in candles]) for name in ("high", "low", "close"))
    assert state.chop == pytest.approx(choppiness_index(high, low, close)[-1])
    assert state.chop > 61.8


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(0, 3), st.integers(0, 3)), min_size=20, max_size=90))
def test_symbol_indicators_chop_keeps_window_extremes_exactly(moves: list[tuple[int, int, int]]) -> None:
    """Few distinct prices: ties at the extremes, and extremes leaving the window, on most candles. The kept highest
    high and lowest low give the chop of the plain max and min over the last `chop_period` candles."""
    params = IndicatorParams(ema_period=2, slope_lookback=1, chop_period=5, atr_period=2)
    state = SymbolIndicators("X", params)
    candles = [
        Candle(
            symbol="X",
            open_time=i * 60_000,
            open=100.0 + c,
            high=100.0 + c + up,
            low=100.0 + c - down,
            close=100.0 + c,
            volume=1.0,
        )
        for i, (c, up, down) in enumerate(moves)
    ]
    for i, candle in enumerate(candles):
        state.update(candle)
        if i + 1 < params.warmup:
            continue
        window = candles[i + 1 - params.chop_period : i + 1]
        span = max(c.high for c in window) - min(c.low for c in window)
        tr_sum = sum(
            max(c.high - c.low, abs(c.high - p.close), abs(c.low - p.close))
            for p, c in zip(candles[i - params.chop_period : i], window, strict=True)
        )
        if span > 0.0 and tr_sum > 0.0:
            assert state.chop == pytest.approx(100.0 * math.log10(tr_sum / span) / math.log10(params.chop_period))
        else:
            assert math.isnan(state.chop)


def test_symbol_indicators_volatility_burst_is_extreme() -> None:
    rng = np.random.default_rng(1)
    closes = list(100 + np.cumsum(rng.normal(0, 0.1, 400)))
    state = SymbolIndicators("X")
    calm = [state.update(c) for c in series_candles(closes, wick=0.05)]
    previous = calm[-1].price
    burst = Candle(
        symbol="X", open_time=10**9, open=previous, high=previous + 8, low=previous - 8, close=previous + 1, volume=1.0
    )
    assert state.update(burst).volatility is VolatilityLevel.EXTREME
    assert {s.volatility for s in calm[: IndicatorParams().vol_min_history]} == {VolatilityLevel.NORMAL}


def test_symbol_indicators_match_vectorised_on_ftx(ftx: np.ndarray) -> None:
    state = SymbolIndicators("BTCPERP")
    snapshots = [state.update(c) for c in candles_from(ftx)]
    high, low, close = ftx[:, 2], ftx[:, 3], ftx[:, 4]
    atr_values = atr(high, low, close)
    assert np.array_equal([s.atr for s in snapshots], atr_values)
    assert [s.regime for s in snapshots] == regimes(high, low, close)
    assert [s.volatility for s in snapshots] == volatility_levels(atr_values / close)
    assert snapshots[-1].at == int(ftx[-1, 0]) + 60_000  # a snapshot is known at the candle's close
    assert {s.volatility for s in snapshots} == set(VolatilityLevel)  # a month of BTC has every level


def test_return_correlation_same_series_is_one_and_mirror_is_minus_one() -> None:
    rng = np.random.default_rng(2)
    a = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    mirror = 100 * np.exp(-np.cumsum(np.diff(np.log(a), prepend=np.log(a[0]))))
    assert return_correlation(a, a * 3) == pytest.approx(1.0)
    assert return_correlation(a, mirror) == pytest.approx(-1.0)
    assert return_correlation(a, np.full(300, 5.0)) == 0.0  # a constant price correlates with nothing
