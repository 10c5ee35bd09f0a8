"""The indicators over whole series (numpy): the rules of `indicators.py` written as array operations, the reference
`SymbolIndicators` (one candle at a time, in a step) is checked against, and `return_correlation`'s for the one
`correlation.py` keeps as the returns come.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from actors.market_data.indicators import (
    DEFAULT_PARAMS,
    IndicatorParams,
    PercentileWindow,
    classify_regime,
    level_from_rank,
)
from actors.messages import Regime, VolatilityLevel


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    high, low, close = (np.asarray(a, dtype=float) for a in (high, low, close))
    tr = high - low
    if len(tr) > 1:
        prev = close[:-1]
        tr[1:] = np.maximum(tr[1:], np.maximum(np.abs(high[1:] - prev), np.abs(low[1:] - prev)))
    return tr


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder's ATR, seeded by the running mean (see module docstring)."""
    out = np.empty(len(high), dtype=float)
    value = 0.0
    # Wilder's smoothing is recursive: a scalar loop is both exact and fast enough.
    for i, tr in enumerate(true_range(high, low, close).tolist()):
        value += (tr - value) / min(i + 1, period)
        out[i] = value
    return out


def atr_percent(atr_values: np.ndarray, close: np.ndarray) -> np.ndarray:
    """ATR as a fraction of the close."""
    return np.asarray(atr_values, dtype=float) / np.asarray(close, dtype=float)


def ema(values: np.ndarray, period: int) -> np.ndarray:
    """EMA with alpha 2/(period+1), seeded with the first value."""
    alpha = 2.0 / (period + 1)
    out = np.empty(len(values), dtype=float)
    level = 0.0
    for i, v in enumerate(np.asarray(values, dtype=float).tolist()):
        level = v if i == 0 else level + alpha * (v - level)
        out[i] = level
    return out


def choppiness_index(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> np.ndarray:
    """Choppiness Index; NaN until `period` + 1 candles (the first TR lacks a previous close)."""
    high, low = np.asarray(high, dtype=float), np.asarray(low, dtype=float)
    out = np.full(len(high), np.nan)
    if len(high) <= period:
        return out
    view = np.lib.stride_tricks.sliding_window_view
    tr_sum = view(true_range(high, low, close), period).sum(axis=1)
    span = view(high, period).max(axis=1) - view(low, period).min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        chop = 100.0 * np.log10(tr_sum / span) / math.log10(period)
    chop[span <= 0] = np.nan  # a flat window is not choppy, it is nothing
    out[period - 1 :] = chop
    out[:period] = np.nan
    return out


def regimes(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, params: IndicatorParams = DEFAULT_PARAMS
) -> list[Regime]:
    """The regime of every candle of a series (same result as `SymbolIndicators`)."""
    close = np.asarray(close, dtype=float)
    atr_values = atr(high, low, close, params.atr_period)
    line = ema(close, params.ema_period)
    chop = choppiness_index(high, low, close, params.chop_period)
    k = params.slope_lookback
    out: list[Regime] = []
    for i in range(len(close)):
        if i + 1 < params.warmup:
            out.append(Regime.SIDEWAYS)
            continue
        denominator = atr_values[i] * math.sqrt(k)
        slope_z = (line[i] - line[i - k]) / denominator if denominator > 0 else 0.0
        out.append(classify_regime(slope_z, chop[i], params))
    return out


def volatility_level(
    current: float, history: Sequence[float] | np.ndarray, params: IndicatorParams = DEFAULT_PARAMS
) -> VolatilityLevel:
    """Level of `current` ATR% against `history` (older values, oldest first)."""
    values = np.asarray(history, dtype=float)[-params.vol_history :]
    values = values[np.isfinite(values)]
    if len(values) < params.vol_min_history or not math.isfinite(current):
        return VolatilityLevel.NORMAL
    rank = (np.count_nonzero(values < current) + np.count_nonzero(values <= current)) / (2 * len(values))
    median = float(np.sort(values)[len(values) // 2])
    return level_from_rank(float(rank), params, current / median if median > 0 else math.inf)


def volatility_levels(atr_pct: np.ndarray, params: IndicatorParams = DEFAULT_PARAMS) -> list[VolatilityLevel]:
    """Level of every value of an ATR% series (skipping the ATR warm-up), as `SymbolIndicators` does."""
    window = PercentileWindow(params.vol_history)
    out: list[VolatilityLevel] = []
    for i, value in enumerate(np.asarray(atr_pct, dtype=float).tolist()):
        if i + 1 < params.atr_period:
            out.append(VolatilityLevel.NORMAL)
            continue
        if len(window) < params.vol_min_history:
            out.append(VolatilityLevel.NORMAL)
        else:
            median = window.median()
            out.append(level_from_rank(window.rank(value), params, value / median if median > 0 else math.inf))
        window.push(value)
    return out


def log_returns(close: np.ndarray) -> np.ndarray:
    close = np.asarray(close, dtype=float)
    return np.diff(np.log(close))


def return_correlation(close_a: np.ndarray, close_b: np.ndarray, window: int = 120) -> float:
    """Correlation of the last `window` log returns of two aligned close series; 0.0 if undefined."""
    ra, rb = log_returns(close_a)[-window:], log_returns(close_b)[-window:]
    n = min(len(ra), len(rb))
    return _pearson(ra[len(ra) - n :], rb[len(rb) - n :])


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2:
        return 0.0
    a, b = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float(a @ a) * float(b @ b))
    # A constant series has no correlation with anything; 0 keeps it out of the correlated group.
    return float(a @ b) / denominator if denominator > 0 else 0.0
