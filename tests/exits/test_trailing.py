"""A position's trailing state, directly: the best price, activation, the minimum move, tightening."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from actors.exits.strategies import ExitPlan
from actors.exits.trailing import MIN_MOVE_SHARE, Trailing
from actors.messages import ExitModeChange, Side, StopMoved
from config.profiles import ExitMode

D = Decimal
TICK = D("0.01")
# Entry 100, stop 97: R = 3, so trailing activates once the best price reaches 103 (LONG) or 97 (SHORT).
LONG_PLAN = ExitPlan(
    side=Side.LONG,
    entry_price=D("100"),
    quantity=D("1"),
    stop_price=D("97"),
    take_profit_price=D("110"),
    risk_per_unit=D("3"),
    trailing_pct=0.02,
)
SHORT_PLAN = ExitPlan(
    side=Side.SHORT,
    entry_price=D("100"),
    quantity=D("1"),
    stop_price=D("103"),
    take_profit_price=D("90"),
    risk_per_unit=D("3"),
    trailing_pct=0.02,
)


ENTRY, LONG_STOP, SHORT_STOP = D("100"), D("97"), D("103")


def long_trailing(*, stop: Decimal = LONG_STOP, best: Decimal = ENTRY, partial_filled: bool = False) -> Trailing:
    return Trailing(plan=LONG_PLAN, stop=stop, best=best, exit_mode=ExitMode.FAST_TP, partial_filled=partial_filled)


def short_trailing(*, stop: Decimal = SHORT_STOP, best: Decimal = ENTRY) -> Trailing:
    return Trailing(plan=SHORT_PLAN, stop=stop, best=best, exit_mode=ExitMode.FAST_TP)


# --- the best price -------------------------------------------------------------------------------------------------


def test_on_range_long_best_follows_the_high_not_the_low():
    trailing = long_trailing()
    trailing.on_range(D("101"), D("90"), TICK)
    assert trailing.best == D("101")


def test_on_range_long_lower_high_keeps_best():
    trailing = long_trailing(best=D("102"))
    trailing.on_range(D("101"), D("100"), TICK)
    assert trailing.best == D("102")


def test_on_range_short_best_follows_the_low_not_the_high():
    trailing = short_trailing()
    trailing.on_range(D("110"), D("99"), TICK)
    assert trailing.best == D("99")


def test_on_range_short_higher_low_keeps_best():
    trailing = short_trailing(best=D("98"))
    trailing.on_range(D("100"), D("99"), TICK)
    assert trailing.best == D("98")


# --- activation -----------------------------------------------------------------------------------------------------


def test_on_range_long_below_one_r_no_move_and_stop_kept():
    trailing = long_trailing()
    assert trailing.on_range(D("102.99"), D("100"), TICK) is None
    assert trailing.stop == D("97") and trailing.best == D("102.99")


def test_on_range_long_at_one_r_moves_stop_to_trailed_level():
    trailing = long_trailing()
    # 103 x (1 - 0.02) = 100.94, already on the tick.
    assert trailing.on_range(D("103"), D("101"), TICK) == D("100.94")
    assert trailing.stop == LONG_STOP  # asked of execution, not moved yet
    trailing.moved(D("100.94"), done=True)
    assert trailing.stop == D("100.94")


def test_on_range_short_at_one_r_moves_stop_down():
    trailing = short_trailing()
    # 97 x (1 + 0.02) = 98.94.
    assert trailing.on_range(D("99"), D("97"), TICK) == D("98.94")
    trailing.moved(D("98.94"), done=True)
    assert trailing.stop == D("98.94")


def test_on_range_while_a_move_is_unanswered_asks_nothing_more():
    trailing = long_trailing()
    assert trailing.on_range(D("103"), D("101"), TICK) == D("100.94")
    assert trailing.on_range(D("106"), D("104"), TICK) is None


def test_moved_not_done_keeps_the_stop_and_asks_again_at_the_next_candle():
    trailing = long_trailing()
    assert trailing.on_range(D("103"), D("101"), TICK) == D("100.94")
    trailing.moved(LONG_STOP, done=False)  # rate-limited or refused: the old stop rests
    assert trailing.stop == LONG_STOP
    assert trailing.on_range(D("103"), D("101"), TICK) == D("100.94")


def test_on_range_partial_filled_trails_before_one_r():
    trailing = long_trailing(partial_filled=True)
    # Best 100 (no move in favour yet): trailed level 98, a move of 1 from 97.
    assert trailing.on_range(D("100"), D("99"), TICK) == D("98.00")


def test_on_range_trailed_level_rounds_away_from_best():
    trailing = long_trailing()
    # 103.57 x 0.98 = 101.4986: a LONG's trailed stop rounds down, so the distance is at least the percent.
    assert trailing.on_range(D("103.57"), D("101"), TICK) == D("101.49")


# --- the minimum move -----------------------------------------------------------------------------------------------


def test_on_range_improvement_below_min_share_no_move():
    trailing = long_trailing(stop=D("100.94"), best=D("103"))
    # Best 103.2: trailed 101.136 -> 101.13, a move of 0.19 < 103.2 x 0.02 x 0.25 = 0.516.
    assert trailing.on_range(D("103.2"), D("102"), TICK) is None
    assert trailing.stop == D("100.94") and trailing.best == D("103.2")


def test_on_range_improvement_exactly_min_share_moves():
    # Best 100: trailed 98; the stop sits exactly the minimum move (100 x 0.02 x the share) below it.
    trailing = long_trailing(stop=D("98") - D("100") * D("0.02") * MIN_MOVE_SHARE, partial_filled=True)
    assert trailing.on_range(D("100"), D("99"), TICK) == D("98.00")


def test_on_range_improvement_just_under_min_share_no_move():
    trailing = long_trailing(stop=D("98") - D("100") * D("0.02") * MIN_MOVE_SHARE + TICK, partial_filled=True)
    assert trailing.on_range(D("100"), D("99"), TICK) is None


def test_on_range_tick_larger_than_min_share_needs_a_tick():
    plan = replace(LONG_PLAN, trailing_pct=0.001)
    tick = D("1")
    # Best 103: trailed 102.897 -> 102 on a whole tick; from a stop of 101.5 that is 0.5, under one tick.
    assert (
        Trailing(plan=plan, stop=D("101.5"), best=D("100"), exit_mode=ExitMode.FAST_TP).on_range(
            D("103"), D("101"), tick
        )
        is None
    )
    # From a stop of 101 it is exactly one tick: it moves.
    assert Trailing(plan=plan, stop=D("101"), best=D("100"), exit_mode=ExitMode.FAST_TP).on_range(
        D("103"), D("101"), tick
    ) == D("102")


def test_on_range_price_falls_back_stop_never_moves_against():
    trailing = long_trailing(stop=D("100.94"), best=D("103"))
    assert trailing.on_range(D("101"), D("98"), TICK) is None
    assert trailing.stop == D("100.94")


def test_on_range_short_price_rises_back_stop_never_moves_against():
    trailing = short_trailing(stop=D("98.94"), best=D("97"))
    assert trailing.on_range(D("102"), D("99"), TICK) is None
    assert trailing.stop == D("98.94")


# --- a change of exit mode -------------------------------------------------------------------------------------------


def test_follows_modes_no_more_defensive_than_its_own():
    trailing = long_trailing()  # FAST_TP
    assert trailing.follows(ExitMode.TREND_FOLLOW) and trailing.follows(ExitMode.FAST_TP)
    assert not trailing.follows(ExitMode.DEFENSIVE_TRAIL)


CHANGE = ExitModeChange(
    exit_mode=ExitMode.DEFENSIVE_TRAIL, take_profit_price=D("104"), trailing_pct=0.01, trailing_start=D("1")
)


def test_change_unanswered_asks_no_trailing_move():
    trailing = long_trailing()
    trailing.ask_change(CHANGE)
    assert trailing.on_range(D("103"), D("101"), TICK) is None  # would be 100.94 otherwise


def test_change_applied_takes_the_new_mode_target_and_trail():
    trailing = long_trailing()
    trailing.ask_change(CHANGE)
    trailing.answered(
        StopMoved(
            position_id="p", stop_price=D("98"), moved=True, take_profit_price=D("104"), exit_mode=CHANGE.exit_mode
        )
    )
    assert (trailing.exit_mode, trailing.stop, trailing.changing) == (ExitMode.DEFENSIVE_TRAIL, D("98"), None)
    assert (trailing.plan.take_profit_price, trailing.plan.trailing_pct, trailing.plan.trailing_from) == (
        D("104"),
        0.01,
        D("1"),
    )
    # Trailing now starts 1 in favour (was 1R = 3) and trails 1%: 101.5 x 0.99 = 100.485, down to the tick.
    assert trailing.on_range(D("101.5"), D("100"), TICK) == D("100.48")


def test_change_not_applied_keeps_mode_and_plan_and_may_be_asked_again():
    trailing = long_trailing()
    trailing.ask_change(CHANGE)
    trailing.answered(StopMoved(position_id="p", stop_price=LONG_STOP, moved=False))
    assert (trailing.exit_mode, trailing.plan, trailing.changing) == (ExitMode.FAST_TP, LONG_PLAN, None)
    assert not trailing.waiting
