"""The risk state's account figures, kept while the portfolio and the window's peak are the same."""

from __future__ import annotations

from decimal import Decimal

from actors.messages import Portfolio
from actors.orchestrator.account_figures import AccountFigures
from actors.protections import EquityPeak

HOUR = 3_600_000
DAILY, PEAK_DRAWDOWN, FLOOR = 0, 6, 7


def test_account_figures_same_portfolio_peak_leaves_window_drawdown_follows():
    peak = EquityPeak(window_ms=HOUR)
    figures = AccountFigures(peak, Decimal(0))
    flat = Portfolio(equity=Decimal(9_000), day_start_equity=Decimal(9_000))
    peak.add(0, Decimal(10_000))
    peak.add(1, flat.equity)

    assert figures.of(flat, 2)[PEAK_DRAWDOWN] == -0.1
    # The same portfolio an hour on: the 10,000 has left the window, the peak is its own equity.
    assert figures.of(flat, HOUR + 1)[PEAK_DRAWDOWN] == 0.0


def test_account_figures_new_portfolio_figures_follow():
    peak = EquityPeak(window_ms=HOUR)
    figures = AccountFigures(peak, Decimal(9_500))
    peak.add(0, Decimal(10_000))
    first = figures.of(Portfolio(equity=Decimal(10_000), day_start_equity=Decimal(10_000)), 1)
    later = figures.of(Portfolio(equity=Decimal(9_000), day_start_equity=Decimal(10_000)), 1)

    assert (first[DAILY], first[PEAK_DRAWDOWN], first[FLOOR]) == (0.0, 0.0, "")
    assert (later[DAILY], later[PEAK_DRAWDOWN]) == (-0.1, -0.1)
    assert "(9000.00 < 9500 USDT)" in later[FLOOR]


def test_account_figures_nothing_changed_same_figures_object():
    peak = EquityPeak(window_ms=HOUR)
    figures = AccountFigures(peak, Decimal(0))
    flat = Portfolio(equity=Decimal(9_000), day_start_equity=Decimal(9_500))
    peak.add(0, flat.equity)

    assert figures.of(flat, 1) is figures.of(flat, 2)


def test_account_figures_risk_state_same_figures_same_object_else_new():
    peak = EquityPeak(window_ms=HOUR)
    figures = AccountFigures(peak, Decimal(0))
    peak.add(0, Decimal(10_000))
    account = figures.of(Portfolio(equity=Decimal(9_000), day_start_equity=Decimal(10_000), losing_streak=2), 1)
    state = figures.risk_state(account, "")

    assert (state.daily_drawdown_pct, state.peak_drawdown_pct, state.losing_streak) == (-0.1, -0.1, 2)
    assert figures.risk_state(account, "") is state
    held = figures.risk_state(account, "a strategy failed")
    assert held.strategy_hold == "a strategy failed" and held.daily_drawdown_pct == -0.1
    # Equal figures in another tuple make another (equal) risk state: only the very same figures are the same.
    other = figures.risk_state((*account,), "a strategy failed")
    assert other == held and other is not held
