"""The protections beyond the day, directly, on injected times: the rolling equity peak, the floor, the cool-downs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.protections import (
    COOLING_DOWN,
    EQUITY_FLOOR_REASON,
    MAX_DRAWDOWN_REASON,
    Cooldown,
    EquityPeak,
    StopOutGuard,
    floor_breach,
    is_stop_out,
    max_drawdown_hit,
    max_drawdown_reason,
)
from config.sections import RiskSettings

H = 3_600_000
DAY = 24 * H
T0 = 19_700 * DAY  # midnight UTC of some day
D = Decimal


# --- the rolling equity peak ----------------------------------------------------------------------------------------


def test_equity_peak_is_the_highest_within_the_window():
    peak = EquityPeak(7 * DAY)
    for hour, equity in enumerate(("10000", "10400", "10100", "9800")):
        peak.add(T0 + hour * H, D(equity))
    assert peak.peak(T0 + 3 * H) == D("10400")
    assert peak.drawdown(T0 + 3 * H, D("9800")) == pytest.approx(9800 / 10400 - 1)


def test_equity_peak_older_than_the_window_no_longer_counts():
    peak = EquityPeak(7 * DAY)
    peak.add(T0, D("12000"))
    peak.add(T0 + DAY, D("10000"))
    peak.add(T0 + 2 * DAY, D("9000"))
    assert peak.peak(T0 + 7 * DAY - 1) == D("12000")
    # Seven days after the 12,000 it leaves the window: the next highest within it is the peak.
    assert peak.peak(T0 + 7 * DAY) == D("10000")
    assert peak.peak(T0 + 8 * DAY) == D("9000")
    assert peak.peak(T0 + 9 * DAY) is None


def test_equity_peak_equal_later_equity_keeps_the_peak_alive_longer():
    peak = EquityPeak(DAY)
    peak.add(T0, D("10000"))
    peak.add(T0 + 20 * H, D("10000"))
    assert peak.peak(T0 + 30 * H) == D("10000")


def test_equity_peak_restart_measures_from_the_next_equity():
    peak = EquityPeak(7 * DAY)
    peak.add(T0, D("10000"))
    peak.add(T0 + H, D("8500"))
    assert peak.drawdown(T0 + H, D("8500")) == pytest.approx(-0.15)
    peak.restart()
    assert peak.peak(T0 + H) is None and peak.drawdown(T0 + H, D("8500")) == 0.0
    peak.add(T0 + 2 * H, D("8500"))
    assert peak.drawdown(T0 + 3 * H, D("8000")) == pytest.approx(8000 / 8500 - 1)


def test_equity_peak_drawdown_without_a_peak_or_above_it_is_zero():
    peak = EquityPeak(DAY)
    assert peak.drawdown(T0, D("100")) == 0.0
    peak.add(T0, D("0"))
    assert peak.drawdown(T0, D("0")) == 0.0
    peak.add(T0 + 1, D("100"))
    assert peak.drawdown(T0 + 1, D("120")) == 0.0  # asked before the 120 was added: never a gain


def test_equity_peak_window_from_settings_in_days():
    assert EquityPeak.from_settings(RiskSettings(drawdown_window_days=7)).window_ms == 7 * DAY
    assert EquityPeak.from_settings(RiskSettings(drawdown_window_days=0.5)).window_ms == 12 * H


def test_equity_peak_window_must_be_positive():
    with pytest.raises(ValueError, match="window"):
        EquityPeak(0)


# --- the max drawdown rule ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drawdown", "limit", "hit"),
    [(-0.0999, 0.10, False), (-0.10, 0.10, True), (-0.25, 0.20, True), (0.0, 0.15, False)],
)
def test_max_drawdown_hit_touching_the_limit_counts(drawdown: float, limit: float, hit: bool):
    assert max_drawdown_hit(drawdown, limit) is hit


def test_max_drawdown_reason_names_the_figures_and_who_resumes():
    reason = max_drawdown_reason(-0.1034, 0.10)
    assert reason.startswith(MAX_DRAWDOWN_REASON)
    assert "-10.34%" in reason and "limit 10%" in reason and "operator" in reason


# --- the equity floor -----------------------------------------------------------------------------------------------


def test_floor_breach_below_the_floor_says_so():
    reason = floor_breach(D("99.5"), D("100"))
    assert reason.startswith(EQUITY_FLOOR_REASON) and "99.50 < 100 USDT" in reason


@pytest.mark.parametrize(("equity", "floor"), [("100", "100"), ("5000", "100"), ("6.52", "0"), ("-3", "0")])
def test_floor_breach_at_or_above_the_floor_or_no_floor_none(equity: str, floor: str):
    assert floor_breach(D(equity), D(floor)) == ""


# --- stop-outs and cool-downs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "net", "stopped_out"),
    [
        ("stop-loss", "-12.5", True),
        ("trailing stop", "-0.01", True),
        ("trailing stop", "30", False),  # a trail that kept a gain is the exit doing its job
        ("stop-loss", "0", False),
        ("take-profit", "-1", False),
        ("closed on the exchange", "-100", False),
        (None, "-1", False),
    ],
)
def test_is_stop_out_a_stop_at_a_net_loss(reason: str | None, net: str, stopped_out: bool):
    assert is_stop_out(reason, D(net)) is stopped_out


def guard() -> StopOutGuard:
    return StopOutGuard(limit=3, window_ms=24 * H, cooldown_ms=6 * H)


def test_cooldown_third_stop_out_within_the_window_starts_it():
    g = guard()
    g.record("BTCUSDT", T0)
    g.record("BTCUSDT", T0 + 5 * H)
    assert g.cooldowns(T0 + 5 * H) == ()
    g.record("BTCUSDT", T0 + 10 * H)
    assert g.cooldowns(T0 + 10 * H) == (Cooldown("BTCUSDT", T0 + 16 * H, 3, 24.0),)
    assert g.cooldowns(T0 + 16 * H - 1) != ()
    assert g.cooldowns(T0 + 16 * H) == ()  # over at its time


def test_cooldown_stop_outs_spread_wider_than_the_window_start_none():
    g = guard()
    for hours in (0, 13, 25):  # never three within 24 h
        g.record("BTCUSDT", T0 + hours * H)
    assert g.cooldowns(T0 + 25 * H) == ()


def test_cooldown_is_per_symbol():
    g = guard()
    for hours in (0, 1, 2):
        g.record("ETHUSDT", T0 + hours * H)
    g.record("BTCUSDT", T0 + 2 * H)
    assert [c.symbol for c in g.cooldowns(T0 + 2 * H)] == ["ETHUSDT"]


def test_cooldown_a_further_stop_out_extends_it_from_the_last():
    g = guard()
    for hours in (0, 1, 2, 4):
        g.record("BTCUSDT", T0 + hours * H)
    (cooldown,) = g.cooldowns(T0 + 4 * H)
    assert cooldown.until == T0 + 10 * H and cooldown.stop_outs == 4


def test_cooldown_recorded_out_of_order_same_result():
    g = guard()
    for hours in (10, 0, 5):
        g.record("BTCUSDT", T0 + hours * H)
    assert g.cooldowns(T0 + 10 * H)[0].until == T0 + 16 * H


def test_cooldown_limit_one_is_a_cooldown_after_every_stop_out():
    g = StopOutGuard(limit=1, window_ms=H, cooldown_ms=2 * H)
    g.record("BTCUSDT", T0)
    assert g.cooldowns(T0 + H)[0].until == T0 + 2 * H


def test_cooldown_kept_between_stop_outs_is_what_a_guard_working_it_out_again_finds():
    # The guard works the cool-downs out again only after a stop-out or when one runs out: asked every half hour
    # through stop-outs that start, extend and end cool-downs, it answers as a guard given the same stop-outs
    # and asked only then.
    stop_outs = {"BTCUSDT": (0, 1, 2, 9, 30, 31, 32), "ETHUSDT": (3, 4, 5, 6, 40, 41)}
    g = guard()
    for step in range(2 * 60):
        now = T0 + step * H // 2
        for symbol, hours in stop_outs.items():
            if now in {T0 + hour * H for hour in hours}:
                g.record(symbol, now)
        fresh = guard()
        for symbol, hours in stop_outs.items():
            for hour in hours:
                if T0 + hour * H <= now:
                    fresh.record(symbol, T0 + hour * H)
        assert g.cooldowns(now) == fresh.cooldowns(now), f"at {step / 2} h"


def test_cooldown_asked_again_earlier_answers_for_that_time():
    g = guard()
    for hours in (0, 1, 2):
        g.record("BTCUSDT", T0 + hours * H)
    assert g.cooldowns(T0 + 9 * H) == ()  # over at T0 + 8 h
    assert g.cooldowns(T0 + 3 * H)[0].until == T0 + 8 * H


def test_cooldown_describe_names_symbol_time_and_count():
    text = Cooldown("BTCUSDT", T0 + 16 * H, 3, 24.0).describe()
    assert text.startswith(f"BTCUSDT {COOLING_DOWN} until ") and "16:00 UTC" in text
    assert "3 stop-outs within 24h" in text


def test_cooldown_from_settings_in_hours():
    g = StopOutGuard.from_settings(RiskSettings(cooldown_after_stop_outs=2, cooldown_window_h=1.5, cooldown_h=0.5))
    assert (g.limit, g.window_ms, g.cooldown_ms) == (2, 90 * 60_000, 30 * 60_000)
    assert g.lookback_ms == 2 * H


@pytest.mark.parametrize(("limit", "window", "cooldown"), [(0, H, H), (1, 0, H), (1, H, 0)])
def test_stop_out_guard_needs_a_limit_and_positive_times(limit: int, window: int, cooldown: int):
    with pytest.raises(ValueError, match="cool-down"):
        StopOutGuard(limit=limit, window_ms=window, cooldown_ms=cooldown)
