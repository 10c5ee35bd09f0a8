"""Exit math of the three exit modes (TREND_FOLLOW / FAST_TP / DEFENSIVE_TRAIL).

Pure: prices in, prices out. The exit actor keeps each position's plan and best
price; the execution actor places the orders.

Rules, documented once here (each mode's numbers are in config/profiles.py):
- Stop-loss at the sized stop distance (the mode's ATR multiple x ATR) when given, never
  further than the mode's stop-loss percent of the entry. R = entry-to-stop distance.
- Take-profit at the mode's reward-to-risk multiple of that distance, the trailing
  distance a multiple of it too, so every mode keeps its shape on any timeframe: on 1m
  candles an ATR stop of 0.1% against a fixed 5% target would be a 50R target that never
  fills. Where the stop reaches the cap they are the seed's percents. Stop and target
  round toward the entry (see actors/rounding.py).
- Partial take-profit at the mode's R multiple, for the mode's fraction rounded down
  to the step; skipped when that is zero, below min qty, leaves a remainder below min
  qty, or lies at or beyond the full take-profit (the full target would fill first).
- Trailing activates once the partial take-profit has filled, or once the best price
  has moved the mode's trailing start (in R) in the position's favour, whichever comes
  first: before that, the initial stop gives the trade the room it was sized for.
- Within one candle, if the stop could trigger it is taken to trigger first: a candle
  does not say whether its high or its low came first, so assume the worse.
- An open position under a more defensive mode takes on that mode's plan for its entry at
  today's ATR, each part only where it is tighter (`tighten_to_mode`): a stop never
  loosens, a target never moves away, a trail never widens or starts later.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from actors.messages import Side, SymbolFilters
from actors.rounding import round_down_to_step, round_price_toward
from config.profiles import ExitModeParams
from exchange.market import to_decimal

# Where a position's plan does not say when trailing starts (a row written before the modes had their own).
DEFAULT_TRAILING_START_R = Decimal(1)


class ExitKind(StrEnum):
    STOP_LOSS = "STOP_LOSS"
    PARTIAL_TAKE_PROFIT = "PARTIAL_TAKE_PROFIT"
    TAKE_PROFIT = "TAKE_PROFIT"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExitPlan:
    side: Side
    entry_price: Decimal
    quantity: Decimal
    stop_price: Decimal
    take_profit_price: Decimal
    risk_per_unit: Decimal  # R: entry-to-stop distance
    partial_price: Decimal | None = None
    partial_quantity: Decimal = Decimal(0)
    trailing_pct: float = 0.0
    trailing_start: Decimal = Decimal(0)  # distance in favour from the entry where trailing starts; 0: 1R

    @property
    def trailing_from(self) -> Decimal:
        return self.trailing_start if self.trailing_start > 0 else self.risk_per_unit * DEFAULT_TRAILING_START_R


def plan_exits(
    mode_params: ExitModeParams,
    side: Side,
    entry_price: Decimal,
    quantity: Decimal,
    filters: SymbolFilters,
    stop_distance: Decimal | None = None,
) -> ExitPlan:
    """The resting exits of a freshly filled position; ValueError if no stop fits the tick."""
    if entry_price <= 0 or quantity <= 0:
        raise ValueError(f"needs a positive entry price and quantity (got {entry_price}, {quantity})")
    sign = side.sign
    tick = filters.tick_size
    cap = entry_price * to_decimal(mode_params.stop_loss_pct)
    distance = cap if stop_distance is None else min(stop_distance, cap)
    stop = round_price_toward(entry_price - sign * distance, tick, entry_price)
    if stop == entry_price or stop <= 0:
        raise ValueError(f"stop distance {distance} rounds to nothing at tick {tick}")
    r = abs(entry_price - stop)
    target_distance = distance * to_decimal(mode_params.take_profit_r)
    take_profit = round_price_toward(entry_price + sign * target_distance, tick, entry_price)

    partial_price: Decimal | None = None
    partial_quantity = Decimal(0)
    partial_distance = r * to_decimal(mode_params.partial_tp_r)
    if partial_distance < target_distance:
        candidate = round_down_to_step(quantity * to_decimal(mode_params.partial_tp_fraction), filters.step_size)
        remainder = quantity - candidate
        if candidate > 0 and candidate >= filters.min_qty and remainder >= filters.min_qty and remainder > 0:
            partial_price = round_price_toward(entry_price + sign * partial_distance, tick, entry_price)
            partial_quantity = candidate
    return ExitPlan(
        side=side,
        entry_price=entry_price,
        quantity=quantity,
        stop_price=stop,
        take_profit_price=take_profit,
        risk_per_unit=r,
        partial_price=partial_price,
        partial_quantity=partial_quantity,
        # Twelve decimals: 2/3 x 3% is 0.019999999999999998 in binary; the seed's 2% it is.
        trailing_pct=round(float(distance * to_decimal(mode_params.trailing_r) / entry_price), 12),
        trailing_start=r * to_decimal(mode_params.trailing_start_r),
    )


def trailing_active(plan: ExitPlan, best_price: Decimal, partial_filled: bool) -> bool:
    """True once the partial take-profit filled or the best price is the plan's trailing start in favour."""
    if partial_filled:
        return True
    favourable = (best_price - plan.entry_price) * plan.side.sign
    return favourable >= plan.trailing_from


def trail_stop(side: Side, current_stop: Decimal, best_price: Decimal, trailing_pct: float, tick: Decimal) -> Decimal:
    """The stop after trailing `best_price` by `trailing_pct`: it only ever moves in favour.

    The trailed level rounds away from the best price (LONG down, SHORT up) so the
    trailing distance is at least the mode's percent.
    """
    offset = best_price * to_decimal(trailing_pct)
    if side is Side.LONG:
        candidate = round_price_toward(best_price - offset, tick, Decimal("-Infinity"))
        return max(current_stop, candidate)
    candidate = round_price_toward(best_price + offset, tick, Decimal("Infinity"))
    return min(current_stop, candidate)


def first_triggered(
    side: Side,
    *,
    stop_price: Decimal,
    take_profit_price: Decimal,
    high: Decimal | float,
    low: Decimal | float,
    partial_price: Decimal | None = None,
) -> ExitKind | None:
    """Which resting exit a candle with this high/low triggers first, if any (stop first)."""
    high_d, low_d = to_decimal(high), to_decimal(low)
    adverse, favourable = (low_d, high_d) if side is Side.LONG else (high_d, low_d)
    sign = side.sign
    if (stop_price - adverse) * sign >= 0:
        return ExitKind.STOP_LOSS
    if partial_price is not None and (favourable - partial_price) * sign >= 0:
        # The partial is nearer the entry than the full target, so it fills first.
        return ExitKind.PARTIAL_TAKE_PROFIT
    if (favourable - take_profit_price) * sign >= 0:
        return ExitKind.TAKE_PROFIT
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Tightened:
    """An open position's exits under a more defensive mode."""

    stop_price: Decimal  # the new mode's stop when it is in the position's favour, else the stop resting now
    take_profit_price: Decimal | None  # the new mode's target when it is closer, else None (the target stays)
    trailing_pct: float
    trailing_start: Decimal


def tighten_to_mode(
    plan: ExitPlan, stop: Decimal, params: ExitModeParams, atr: float, filters: SymbolFilters
) -> Tightened:
    """The exits an open position takes on under a more defensive mode: the new mode's plan for the same entry at
    today's ATR (its cap when there is no ATR), each part taken only where it is tighter than what the position has:
    a stop never loosens, a target never moves away, trailing never starts later or trails wider. `stop` is the
    stop resting now (trailing may have moved it past the plan's)."""
    sign = plan.side.sign
    distance = to_decimal(atr) * to_decimal(params.atr_multiplier_sl) if atr > 0 else None  # NaN is not > 0
    try:
        new = plan_exits(params, plan.side, plan.entry_price, plan.quantity, filters, distance)
    except ValueError:  # a stop that rounds to nothing at this tick: nothing tighter to take
        return Tightened(
            stop_price=stop, take_profit_price=None, trailing_pct=plan.trailing_pct, trailing_start=plan.trailing_from
        )
    closer = (plan.take_profit_price - new.take_profit_price) * sign > 0
    return Tightened(
        stop_price=new.stop_price if (new.stop_price - stop) * sign > 0 else stop,
        take_profit_price=new.take_profit_price if closer else None,
        trailing_pct=min(plan.trailing_pct, new.trailing_pct) if plan.trailing_pct > 0 else new.trailing_pct,
        trailing_start=min(plan.trailing_from, new.trailing_start),
    )
