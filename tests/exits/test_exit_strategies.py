"""Exit math: each mode's numbers, partial take-profit, trailing, stop-first, mode switches."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.exits.strategies import (
    ExitKind,
    first_triggered,
    plan_exits,
    switch_exit_mode,
    trail_stop,
    trailing_active,
)
from actors.messages import Side, SymbolFilters
from config.profiles import DEFAULT_EXIT_MODES, ExitMode

FILTERS = SymbolFilters(tick_size=Decimal("0.01"), step_size=Decimal("0.001"), min_qty=Decimal("0.001"))
D = Decimal


@pytest.mark.parametrize(
    ("mode", "stop", "target", "partial", "partial_qty", "trail"),
    [
        (ExitMode.TREND_FOLLOW, "96.00", "108.00", "106.00", "0.500", 0.03),
        (ExitMode.FAST_TP, "97.00", "105.00", "103.00", "0.600", 0.02),
        (ExitMode.DEFENSIVE_TRAIL, "98.00", "104.00", "101.60", "0.700", 0.015),
    ],
)
def test_plan_exits_long_each_mode_matches_design(mode, stop, target, partial, partial_qty, trail):
    plan = plan_exits(DEFAULT_EXIT_MODES[mode], Side.LONG, D("100"), D("1"), FILTERS)
    assert plan.stop_price == D(stop)
    assert plan.take_profit_price == D(target)
    assert plan.partial_price == D(partial)
    assert plan.partial_quantity == D(partial_qty)
    assert plan.trailing_pct == trail
    assert plan.risk_per_unit == D("100") - D(stop)
    params = DEFAULT_EXIT_MODES[mode]
    assert plan.trailing_start == plan.risk_per_unit * D(str(params.trailing_start_r))


def test_plan_exits_short_defensive_mirrors_long():
    plan = plan_exits(DEFAULT_EXIT_MODES[ExitMode.DEFENSIVE_TRAIL], Side.SHORT, D("100"), D("1"), FILTERS)
    assert (plan.stop_price, plan.take_profit_price, plan.partial_price) == (D("102.00"), D("96.00"), D("98.40"))


def test_plan_exits_sized_stop_distance_sets_r():
    plan = plan_exits(
        DEFAULT_EXIT_MODES[ExitMode.TREND_FOLLOW], Side.LONG, D("100"), D("1"), FILTERS, stop_distance=D("1.5")
    )
    assert plan.stop_price == D("98.50")
    assert plan.risk_per_unit == D("1.50")
    assert plan.partial_price == D("102.25")  # 1.5R
    # The ATR stop is 1.5% against the mode's 4% cap: the target is still the mode's 2R, 3% (not the cap's 8%).
    assert plan.take_profit_price == D("103.00")


def test_plan_exits_stop_distance_beyond_mode_cap_is_capped():
    plan = plan_exits(DEFAULT_EXIT_MODES[ExitMode.FAST_TP], Side.LONG, D("100"), D("1"), FILTERS, stop_distance=D("10"))
    assert plan.stop_price == D("97.00")


def test_plan_exits_prices_round_toward_entry():
    plan = plan_exits(DEFAULT_EXIT_MODES[ExitMode.DEFENSIVE_TRAIL], Side.LONG, D("100.33"), D("1"), FILTERS)
    assert plan.stop_price == D("98.33")  # 100.33 - 2.0066 = 98.3234, up toward the entry
    assert plan.take_profit_price == D("104.34")  # 100.33 + 4.0132 = 104.3432, down toward the entry


def test_plan_exits_partial_rounding_to_zero_skipped():
    plan = plan_exits(DEFAULT_EXIT_MODES[ExitMode.TREND_FOLLOW], Side.LONG, D("100"), D("0.001"), FILTERS)
    assert plan.partial_price is None
    assert plan.partial_quantity == 0


def test_plan_exits_partial_leaving_less_than_min_qty_skipped():
    filters = SymbolFilters(tick_size=D("0.01"), step_size=D("0.001"), min_qty=D("0.002"))
    plan = plan_exits(DEFAULT_EXIT_MODES[ExitMode.DEFENSIVE_TRAIL], Side.LONG, D("100"), D("0.003"), filters)
    assert plan.partial_quantity == 0  # 0.002 partial would leave 0.001 < min qty


def test_plan_exits_partial_quantity_rounds_down_to_step():
    plan = plan_exits(DEFAULT_EXIT_MODES[ExitMode.FAST_TP], Side.LONG, D("100"), D("0.013"), FILTERS)
    assert plan.partial_quantity == D("0.007")  # 60% of 0.013 = 0.0078


def test_plan_exits_partial_beyond_take_profit_skipped():
    params = DEFAULT_EXIT_MODES[ExitMode.TREND_FOLLOW].model_copy(update={"take_profit_r": 1.25})
    plan = plan_exits(params, Side.LONG, D("100"), D("1"), FILTERS)
    assert plan.take_profit_price == D("105.00")
    assert plan.partial_price is None  # 1.5R = 106 lies beyond the 1.25R target


def test_plan_exits_stop_inside_one_tick_raises():
    with pytest.raises(ValueError, match="rounds to nothing"):
        plan_exits(DEFAULT_EXIT_MODES[ExitMode.FAST_TP], Side.LONG, D("100"), D("1"), FILTERS, stop_distance=D("0.004"))


# --- trailing ----------------------------------------------------------------------------------


def test_trail_stop_long_follows_new_high():
    assert trail_stop(Side.LONG, D("96.00"), D("110"), 0.03, D("0.01")) == D("106.70")


def test_trail_stop_long_price_falls_stop_stays():
    assert trail_stop(Side.LONG, D("106.70"), D("105"), 0.03, D("0.01")) == D("106.70")


def test_trail_stop_short_follows_new_low():
    assert trail_stop(Side.SHORT, D("104.00"), D("90"), 0.02, D("0.01")) == D("91.80")


def test_trail_stop_rounds_away_from_best_price():
    assert trail_stop(Side.LONG, D("90"), D("100.01"), 0.015, D("0.01")) == D("98.50")  # 98.50985 down
    assert trail_stop(Side.SHORT, D("110"), D("100.01"), 0.015, D("0.01")) == D("101.52")  # 101.51015 up


prices = st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2)


@given(
    side=st.sampled_from(list(Side)),
    current=prices,
    best=prices,
    pct=st.sampled_from([0.015, 0.02, 0.03, 0.001, 0.25]),
    tick=st.sampled_from([D("0.01"), D("0.1"), D("1")]),
)
def test_trail_stop_any_input_never_moves_against_position(side, current, best, pct, tick):
    stop = trail_stop(side, current, best, pct, tick)
    assert (stop - current) * side.sign >= 0


@given(side=st.sampled_from(list(Side)), path=st.lists(prices, min_size=1, max_size=40))
def test_trail_stop_over_price_path_is_monotonic_in_favour(side, path):
    stop = D("50000")
    best = path[0]
    for price in path:
        best = max(best, price) if side is Side.LONG else min(best, price)
        new_stop = trail_stop(side, stop, best, 0.02, D("0.01"))
        assert (new_stop - stop) * side.sign >= 0
        stop = new_stop


def test_trailing_active_before_1r_inactive():
    plan = plan_exits(DEFAULT_EXIT_MODES[ExitMode.FAST_TP], Side.LONG, D("100"), D("1"), FILTERS)
    assert trailing_active(plan, D("102.99"), partial_filled=False) is False


def test_trailing_active_at_1r_active():
    plan = plan_exits(DEFAULT_EXIT_MODES[ExitMode.FAST_TP], Side.SHORT, D("100"), D("1"), FILTERS)
    assert trailing_active(plan, D("97.00"), partial_filled=False) is True


def test_trailing_active_after_partial_fill_active():
    plan = plan_exits(DEFAULT_EXIT_MODES[ExitMode.DEFENSIVE_TRAIL], Side.LONG, D("100"), D("1"), FILTERS)
    assert trailing_active(plan, D("101.60"), partial_filled=True) is True


# --- which exit triggers first ---------------------------------------------------------------------


def test_first_triggered_candle_spanning_stop_and_target_stop_first():
    assert (
        first_triggered(
            Side.LONG, stop_price=D("97"), take_profit_price=D("105"), partial_price=D("103"), high=106.0, low=96.5
        )
        is ExitKind.STOP_LOSS
    )
    assert (
        first_triggered(Side.SHORT, stop_price=D("103"), take_profit_price=D("95"), high=D("104"), low=D("94"))
        is ExitKind.STOP_LOSS
    )


def test_first_triggered_partial_before_full_target():
    assert (
        first_triggered(
            Side.LONG,
            stop_price=D("97"),
            take_profit_price=D("105"),
            partial_price=D("103"),
            high=D("106"),
            low=D("98"),
        )
        is ExitKind.PARTIAL_TAKE_PROFIT
    )


def test_first_triggered_target_without_partial():
    assert (
        first_triggered(Side.SHORT, stop_price=D("103"), take_profit_price=D("95"), high=D("101"), low=D("95"))
        is ExitKind.TAKE_PROFIT
    )


def test_first_triggered_quiet_candle_none():
    assert (
        first_triggered(Side.LONG, stop_price=D("97"), take_profit_price=D("105"), high=D("104.99"), low=D("97.01"))
        is None
    )


def test_first_triggered_touching_stop_triggers():
    assert (
        first_triggered(Side.LONG, stop_price=D("97"), take_profit_price=D("105"), high=D("100"), low=D("97"))
        is ExitKind.STOP_LOSS
    )


# --- exit mode switch on an open position --------------------------------------------------------


def test_switch_exit_mode_to_defensive_tightens_trailing_keeps_stop():
    plan = plan_exits(DEFAULT_EXIT_MODES[ExitMode.TREND_FOLLOW], Side.LONG, D("100"), D("1"), FILTERS)
    switched = switch_exit_mode(plan, ExitMode.DEFENSIVE_TRAIL, DEFAULT_EXIT_MODES[ExitMode.DEFENSIVE_TRAIL])
    assert switched.trailing_pct == 0.015
    assert switched.stop_price == plan.stop_price
    assert switched.take_profit_price == plan.take_profit_price


def test_switch_exit_mode_to_fast_tp_keeps_plan():
    plan = plan_exits(DEFAULT_EXIT_MODES[ExitMode.TREND_FOLLOW], Side.LONG, D("100"), D("1"), FILTERS)
    assert switch_exit_mode(plan, ExitMode.FAST_TP, DEFAULT_EXIT_MODES[ExitMode.FAST_TP]) == plan


def test_switch_exit_mode_to_wider_defensive_never_loosens_trailing():
    plan = plan_exits(DEFAULT_EXIT_MODES[ExitMode.DEFENSIVE_TRAIL], Side.LONG, D("100"), D("1"), FILTERS)
    wider = DEFAULT_EXIT_MODES[ExitMode.DEFENSIVE_TRAIL].model_copy(update={"trailing_r": 2.5})
    assert switch_exit_mode(plan, ExitMode.DEFENSIVE_TRAIL, wider).trailing_pct == 0.015
