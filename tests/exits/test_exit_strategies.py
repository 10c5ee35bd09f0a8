"""Exit math: each mode's numbers, partial take-profit, trailing, stop-first, a more defensive mode."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.exits.strategies import (
    ExitKind,
    ExitPlan,
    Tightened,
    first_triggered,
    plan_exits,
    tighten_to_mode,
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


# --- an open position under a more defensive mode ---------------------------------------------------------------


def fast_plan(side: Side = Side.LONG) -> ExitPlan:
    """FAST_TP at ATR 1 on an entry of 100: stop 1.5 away, target 2.5, trail 1%, trailing from 1.5."""
    return plan_exits(DEFAULT_EXIT_MODES[ExitMode.FAST_TP], side, D("100"), D("1"), FILTERS, stop_distance=D("1.5"))


def test_tighten_to_defensive_at_same_atr_takes_stop_target_and_trail():
    plan = fast_plan()
    assert (plan.stop_price, plan.take_profit_price, plan.trailing_pct) == (D("98.50"), D("102.50"), 0.01)
    tightened = tighten_to_mode(plan, plan.stop_price, DEFAULT_EXIT_MODES[ExitMode.DEFENSIVE_TRAIL], 1.0, FILTERS)
    assert tightened == Tightened(
        stop_price=D("99.00"), take_profit_price=D("102.00"), trailing_pct=0.0075, trailing_start=D("0.500")
    )


def test_tighten_to_defensive_short_mirrors_long():
    plan = fast_plan(Side.SHORT)
    tightened = tighten_to_mode(plan, plan.stop_price, DEFAULT_EXIT_MODES[ExitMode.DEFENSIVE_TRAIL], 1.0, FILTERS)
    assert (tightened.stop_price, tightened.take_profit_price) == (D("101.00"), D("98.00"))


def test_tighten_stop_trailed_past_the_new_stop_is_kept():
    plan = fast_plan()
    tightened = tighten_to_mode(plan, D("100.40"), DEFAULT_EXIT_MODES[ExitMode.DEFENSIVE_TRAIL], 1.0, FILTERS)
    assert tightened.stop_price == D("100.40")


def test_tighten_atr_risen_keeps_every_part_the_new_mode_would_widen():
    plan = fast_plan()
    # ATR 3: DEFENSIVE_TRAIL's stop is its 2% cap, wider than the 1.5 resting; its target 104 is further than 102.5.
    tightened = tighten_to_mode(plan, plan.stop_price, DEFAULT_EXIT_MODES[ExitMode.DEFENSIVE_TRAIL], 3.0, FILTERS)
    assert tightened == Tightened(
        stop_price=D("98.50"), take_profit_price=None, trailing_pct=0.01, trailing_start=D("1.000")
    )


@pytest.mark.parametrize("atr", [float("nan"), 0.0])
def test_tighten_without_atr_uses_the_new_mode_cap(atr):
    plan = plan_exits(DEFAULT_EXIT_MODES[ExitMode.TREND_FOLLOW], Side.LONG, D("100"), D("1"), FILTERS)  # 96 / 108
    tightened = tighten_to_mode(plan, plan.stop_price, DEFAULT_EXIT_MODES[ExitMode.FAST_TP], atr, FILTERS)
    assert (tightened.stop_price, tightened.take_profit_price, tightened.trailing_pct) == (
        D("97.00"),
        D("105.00"),
        0.02,
    )


@given(
    side=st.sampled_from(list(Side)),
    entry=st.decimals(min_value=D("1"), max_value=D("100000"), places=2),
    old_fraction=st.decimals(min_value=D("0.0005"), max_value=D("0.1"), places=4),
    atr_fraction=st.decimals(min_value=D("0.0001"), max_value=D("0.2"), places=5),
    trailed=st.decimals(min_value=D("0"), max_value=D("2"), places=3),
    old=st.sampled_from(list(ExitMode)),
    new=st.sampled_from(list(ExitMode)),
)
def test_tighten_any_position_and_atr_never_loosens_anything(
    side, entry, old_fraction, atr_fraction, trailed, old, new
):
    filters = SymbolFilters(tick_size=D("0.01"), step_size=D("0.001"), min_qty=D("0.001"))
    try:
        plan = plan_exits(DEFAULT_EXIT_MODES[old], side, entry, D("1"), filters, stop_distance=entry * old_fraction)
    except ValueError:
        return  # no stop fits the tick: no such position
    stop = plan.stop_price + side.sign * plan.risk_per_unit * trailed  # the stop may have trailed
    tightened = tighten_to_mode(plan, stop, DEFAULT_EXIT_MODES[new], float(entry * atr_fraction), filters)
    assert (tightened.stop_price - stop) * side.sign >= 0
    if tightened.take_profit_price is not None:
        assert (plan.take_profit_price - tightened.take_profit_price) * side.sign > 0
    assert tightened.trailing_pct <= plan.trailing_pct
    assert tightened.trailing_start <= plan.trailing_from
