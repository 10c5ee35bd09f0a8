"""The report's metrics on hand-made trades and equity curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from service.report.metrics import (
    DAY_MS,
    EquityCurve,
    TradeOutcome,
    compute_metrics,
    daily_closes,
    exposure_ms,
    max_drawdown,
    sharpe_ratio,
)

T0 = 1_640_995_200_000  # 2022-01-01T00:00:00Z
HOUR = 3_600_000


def trade(
    pnl: float, fees: float = 0.0, *, opened: int | None = None, closed: int | None = None, r: float | None = None
) -> TradeOutcome:
    return TradeOutcome(realized_pnl=pnl, fees=fees, opened_at=opened, closed_at=closed, r_multiple=r)


def daily_curve(values: list[float]) -> EquityCurve:
    """One point at noon of each consecutive day."""
    return EquityCurve(at=tuple(T0 + i * DAY_MS + 12 * HOUR for i in range(len(values))), equity=tuple(values))


def test_metrics_no_trades_no_equity_all_zero():
    metrics = compute_metrics([], EquityCurve())
    assert (metrics.trades, metrics.wins, metrics.losses, metrics.win_rate) == (0, 0, 0, 0.0)
    assert (metrics.gross_pnl, metrics.net_pnl, metrics.max_drawdown, metrics.sharpe) == (0.0, 0.0, 0.0, 0.0)
    assert metrics.profit_factor is None and metrics.average_r is None and metrics.return_pct is None
    assert metrics.exposure_pct == 0.0


def test_metrics_fees_decide_win_or_loss_on_net_pnl():
    trades = [trade(10.0, 1.0), trade(-5.0, 1.0), trade(0.5, 0.5), trade(2.0, 3.0)]
    metrics = compute_metrics(trades, EquityCurve())
    # Net: +9, -6, 0, -1: a gross win eaten by fees is a loss.
    assert (metrics.trades, metrics.wins, metrics.losses, metrics.breakeven) == (4, 1, 2, 1)
    assert metrics.win_rate == pytest.approx(0.25)
    assert metrics.gross_pnl == pytest.approx(7.5)
    assert metrics.fees == pytest.approx(5.5)
    assert metrics.net_pnl == pytest.approx(2.0)
    assert metrics.profit_factor == pytest.approx(9.0 / 7.0)
    assert metrics.average_win == pytest.approx(9.0)
    assert metrics.average_loss == pytest.approx(-3.5)


def test_metrics_only_winners_profit_factor_is_none():
    metrics = compute_metrics([trade(5.0), trade(3.0)], EquityCurve())
    assert metrics.profit_factor is None
    assert metrics.win_rate == 1.0


def test_metrics_average_r_skips_trades_without_known_risk():
    metrics = compute_metrics([trade(10.0, r=2.0), trade(-5.0, r=-1.0), trade(1.0)], EquityCurve())
    assert metrics.average_r == pytest.approx(0.5)
    assert metrics.trades_with_r == 2


def test_max_drawdown_takes_the_deepest_fall_from_the_running_peak():
    drawdown = max_drawdown([100, 120, 90, 130, 65, 200])
    assert drawdown.absolute == pytest.approx(65.0)
    assert drawdown.percent == pytest.approx(50.0)


def test_max_drawdown_money_and_percent_may_come_from_different_peaks():
    drawdown = max_drawdown([100, 50, 1000, 900])
    assert drawdown.absolute == pytest.approx(100.0)  # 1000 -> 900
    assert drawdown.percent == pytest.approx(50.0)  # 100 -> 50


def test_max_drawdown_rising_or_empty_series_is_zero():
    assert max_drawdown([1, 2, 3]).absolute == 0.0
    assert max_drawdown([]).percent == 0.0


def test_sharpe_one_day_is_zero():
    curve = EquityCurve(at=(T0, T0 + HOUR, T0 + 2 * HOUR), equity=(100.0, 90.0, 120.0))
    assert sharpe_ratio(curve) == (0.0, 1)


def test_sharpe_flat_equity_zero_variance_is_zero():
    assert sharpe_ratio(daily_curve([100.0] * 10)) == (0.0, 10)


def test_sharpe_constant_daily_growth_zero_variance_is_zero():
    values = [100.0 * 1.01**i for i in range(6)]
    # Day one's return runs from the curve's first point, so that point sits 1% lower at midnight.
    curve = EquityCurve(at=(T0, *(T0 + i * DAY_MS + 12 * HOUR for i in range(6))), equity=(values[0] / 1.01, *values))
    sharpe, days = sharpe_ratio(curve)
    assert days == 6
    assert sharpe == 0.0


def test_sharpe_daily_returns_annualised_by_sqrt_365():
    values = [100.0, 102.0, 101.0, 104.0, 103.0]
    curve = EquityCurve(at=(T0, *(T0 + i * DAY_MS + 12 * HOUR for i in range(5))), equity=(100.0, *values))
    returns = np.asarray(values) / np.asarray([100.0, *values[:-1]]) - 1.0
    expected = returns.mean() / returns.std(ddof=1) * math.sqrt(365)
    sharpe, days = sharpe_ratio(curve)
    assert days == 5
    assert sharpe == pytest.approx(expected)


def test_daily_closes_use_last_point_and_carry_over_empty_days():
    curve = EquityCurve(
        at=(T0 + HOUR, T0 + 20 * HOUR, T0 + 2 * DAY_MS + HOUR),
        equity=(100.0, 110.0, 90.0),
    )
    assert daily_closes(curve).tolist() == [110.0, 110.0, 90.0]


def test_exposure_counts_overlaps_once_and_clips_to_the_span():
    intervals = [(0, 10), (5, 15), (20, 30), (25, 26), (90, 200)]
    assert exposure_ms(intervals, 0, 100) == 15 + 10 + 10


def test_metrics_exposure_and_return_over_the_equity_span():
    curve = EquityCurve(at=(T0, T0 + 10 * HOUR), equity=(1000.0, 1100.0))
    trades = [
        trade(60.0, opened=T0 + HOUR, closed=T0 + 3 * HOUR),
        trade(40.0, opened=T0 + 2 * HOUR, closed=T0 + 4 * HOUR),
    ]
    metrics = compute_metrics(trades, curve, open_intervals=[(T0 + 9 * HOUR, T0 + 10 * HOUR)])
    assert metrics.exposure_ms == 4 * HOUR
    assert metrics.exposure_pct == pytest.approx(40.0)
    assert metrics.return_pct == pytest.approx(10.0)
    assert (metrics.start_equity, metrics.end_equity) == (1000.0, 1100.0)


def test_equity_curve_mismatched_lengths_raise():
    with pytest.raises(ValueError):
        EquityCurve(at=(1, 2), equity=(1.0,))
