"""The three exit modes differ in what they do (DESIGN.md "Exit modes"): for the same entry and ATR, a more
defensive mode's stop, target, trailing distance and trailing start are closer; at the stop's cap they are the
seed's percents."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.exits.strategies import ExitPlan, plan_exits
from actors.messages import Side, SymbolFilters
from config.profiles import DEFAULT_EXIT_MODES, ExitMode
from exchange.market import to_decimal

D = Decimal
# A tick far below any stop these tests place, so rounding never decides an ordering.
FINE = SymbolFilters(tick_size=D("0.00000001"), step_size=D("0.001"), min_qty=D("0.001"))
CENTS = SymbolFilters(tick_size=D("0.01"), step_size=D("0.001"), min_qty=D("0.001"))
TF, FAST, DEF = ExitMode.TREND_FOLLOW, ExitMode.FAST_TP, ExitMode.DEFENSIVE_TRAIL


def plan_at(mode: ExitMode, side: Side, entry: Decimal, atr: Decimal, filters: SymbolFilters = FINE) -> ExitPlan:
    """The plan of an entry sized as risk sizes it: the mode's ATR multiple, capped inside plan_exits."""
    params = DEFAULT_EXIT_MODES[mode]
    return plan_exits(params, side, entry, D("1"), filters, stop_distance=atr * to_decimal(params.atr_multiplier_sl))


def distances(plan: ExitPlan) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """Stop, target, trailing distance and trailing start, each as a distance from the entry."""
    sign = plan.side.sign
    return (
        (plan.entry_price - plan.stop_price) * sign,
        (plan.take_profit_price - plan.entry_price) * sign,
        plan.entry_price * to_decimal(plan.trailing_pct),
        plan.trailing_from,
    )


entries = st.decimals(min_value=D("1"), max_value=D("100000"), places=2)
atr_fractions = st.decimals(min_value=D("0.0005"), max_value=D("0.2"), places=5)  # ATR as a share of the price
sides = st.sampled_from(list(Side))


@given(entry=entries, atr_fraction=atr_fractions, side=sides)
def test_modes_any_entry_and_atr_defensive_stop_tightest_fast_no_wider_than_trend(entry, atr_fraction, side):
    stops = {mode: distances(plan_at(mode, side, entry, entry * atr_fraction))[0] for mode in ExitMode}
    assert stops[DEF] < stops[FAST] <= stops[TF]


@given(entry=entries, atr_fraction=atr_fractions, side=sides)
def test_modes_any_entry_and_atr_fast_and_defensive_targets_closer_than_trend(entry, atr_fraction, side):
    targets = {mode: distances(plan_at(mode, side, entry, entry * atr_fraction))[1] for mode in ExitMode}
    assert targets[FAST] < targets[TF]
    assert targets[DEF] < targets[FAST]


@given(entry=entries, atr_fraction=atr_fractions, side=sides)
def test_modes_any_entry_and_atr_defensive_trails_earliest_and_tightest(entry, atr_fraction, side):
    plans = {mode: distances(plan_at(mode, side, entry, entry * atr_fraction)) for mode in ExitMode}
    trail, start = {m: d[2] for m, d in plans.items()}, {m: d[3] for m, d in plans.items()}
    assert trail[DEF] < trail[FAST] < trail[TF]
    assert start[DEF] < start[FAST] < start[TF]


@given(entry=entries, atr_fraction=atr_fractions, side=sides, mode=st.sampled_from(list(ExitMode)))
def test_modes_any_entry_and_atr_keep_their_reward_to_risk(entry, atr_fraction, side, mode):
    stop, target, _, _ = distances(plan_at(mode, side, entry, entry * atr_fraction))
    # Both round toward the entry by less than a tick each.
    expected = stop * to_decimal(DEFAULT_EXIT_MODES[mode].take_profit_r)
    assert abs(target - expected) <= 3 * FINE.tick_size * to_decimal(DEFAULT_EXIT_MODES[mode].take_profit_r)


@pytest.mark.parametrize(
    ("mode", "take_profit", "stop_loss", "trailing"),
    [(TF, 0.08, 0.04, 0.03), (FAST, 0.05, 0.03, 0.02), (DEF, 0.04, 0.02, 0.015)],
)
def test_modes_stop_at_its_cap_give_the_seed_percents(mode, take_profit, stop_loss, trailing):
    params = DEFAULT_EXIT_MODES[mode]
    assert (params.take_profit_pct, params.stop_loss_pct, params.trailing_pct) == (take_profit, stop_loss, trailing)
    plan = plan_at(mode, Side.LONG, D("100"), atr=D("50"), filters=CENTS)  # an ATR far beyond every cap
    assert plan.take_profit_price == D("100") * (1 + to_decimal(take_profit))
    assert plan.stop_price == D("100") * (1 - to_decimal(stop_loss))
    assert plan.trailing_pct == trailing


def test_modes_below_their_caps_differ_where_the_old_plan_collapsed_them():
    # Issue 11: at a 1.5% ATR stop DEFENSIVE_TRAIL placed exactly TREND_FOLLOW's stop, target and trail.
    trend = plan_at(TF, Side.LONG, D("100"), atr=D("0.75"), filters=CENTS)  # 2 ATR = 1.5
    defensive = plan_at(DEF, Side.LONG, D("100"), atr=D("0.75"), filters=CENTS)  # 1 ATR = 0.75
    assert (trend.stop_price, trend.take_profit_price, trend.trailing_pct) == (D("98.50"), D("103.00"), 0.01125)
    assert (defensive.stop_price, defensive.take_profit_price, defensive.trailing_pct) == (
        D("99.25"),
        D("101.50"),
        0.005625,
    )


def test_exit_mode_defensiveness_orders_trend_fast_defensive():
    assert TF.defensiveness < FAST.defensiveness < DEF.defensiveness
