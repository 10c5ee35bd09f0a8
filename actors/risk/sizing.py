"""Position sizing (DESIGN.md "Sizing"), rounded to the exchange's filters.

    risk_pct = max_risk_pct x profile factor x confidence factor, clamped to the profile
    risk_usd = equity x risk_pct
    stop distance = ATR x the exit mode's atr_multiplier_sl, capped at the mode's stop-loss % of price
    quantity = risk_usd / stop distance, notional clamped to min/max size and the account's leverage

The leverage ceiling is the account's (`exchange.leverage`, the one set on the exchange): what
this order may add to the gross notional already open, equity x leverage - open notional, so
a sized order never needs more initial margin than the account has left (at the reference
price; fees and a market order's slippage come on top, as on any exchange).

Money, prices and quantities are Decimal; percentages are floats.

Rounding (side-aware, always in the direction that keeps the sized risk true; the helpers
are in actors/rounding.py):
- quantity rounds DOWN to the step size: never more than the risk budget buys;
- the entry reference price (the last price: entries are market orders, so it only sets
  the stop, the quantity and the notional checks; the fill is at the market's price)
  rounds to the tick, LONG down and SHORT up;
- stop-loss and take-profit prices round TOWARD the entry: the stop is never further
  away than sized (the loss at the stop stays within risk_usd) and the target is never
  further away than planned.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from actors.messages import Side, SymbolFilters
from actors.rounding import round_down_to_step, round_price_toward, round_up_to_step
from config.profiles import ExitModeParams, RiskProfile
from config.sections import RiskSettings
from exchange.market import to_decimal

# risk_profile strings the policy emits (see actors/orchestrator/policy.py); other names
# (SAFE, MODERATE, AGGRESSIVE, FALLBACK) size at 1.0. NO_NEW_TRADES only reaches sizing
# when use_for_trading_gate is off (otherwise the gate blocks first): it then sizes at 10%.
PROFILE_FACTORS: dict[str, float] = {"REDUCED": 0.7, "NO_NEW_TRADES": 0.1}

HIGH_CONFIDENCE = 0.85
LOW_CONFIDENCE = 0.60


@dataclass(frozen=True, slots=True, kw_only=True)
class SizedOrder:
    side: Side
    quantity: Decimal
    entry_price: Decimal  # reference price, rounded to tick
    stop_price: Decimal
    stop_distance: Decimal  # entry to rounded stop: 1R per unit
    risk_pct: float  # after profile and confidence factors and the clamp
    risk_usd: Decimal  # the budget: equity x risk_pct
    risk_at_stop: Decimal  # what the rounded order actually loses at the stop
    notional: Decimal
    adjustments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SizingRejected:
    reason: str


def round_entry_price(price: Decimal, tick: Decimal, side: Side) -> Decimal:
    mode = ROUND_FLOOR if side is Side.LONG else ROUND_CEILING
    return (price / tick).to_integral_value(rounding=mode) * tick


def confidence_factor(confidence: float) -> float:
    # Seed 000 sizes a signal of exactly 0.60 as low (scenario 4: 0.8x), so "normal"
    # is (0.60, 0.85): the lowest confidence a HIGH-volatility policy accepts sizes low.
    if confidence >= HIGH_CONFIDENCE:
        return 1.2
    if confidence > LOW_CONFIDENCE:
        return 1.0
    return 0.8


def profile_factor(risk_profile: str) -> float:
    return PROFILE_FACTORS.get(str(risk_profile), 1.0)


def scaled_risk_pct(max_risk_pct: float, risk_profile: str, confidence: float) -> float:
    """The unclamped product of the design's formula."""
    product = max_risk_pct * profile_factor(risk_profile) * confidence_factor(confidence)
    # Float products leave binary noise (0.01 x 0.5 x 0.7 = 0.0034999999999999996) that would
    # leak into Decimal money; twelve decimals is far below any meaningful risk precision.
    return round(product, 12)


def seed_risk_pct(base_risk_pct: float, policy_multiplier: float, risk_profile: str, confidence: float) -> float:
    """Seed 000's form of the same formula: max_risk_pct = base risk x policy multiplier."""
    return scaled_risk_pct(base_risk_pct * policy_multiplier, risk_profile, confidence)


def final_risk_pct(
    *,
    max_risk_pct: float,
    risk_profile: str,
    confidence: float,
    profile: RiskProfile,
) -> tuple[float, tuple[str, ...]]:
    """risk_pct clamped to the profile's min/max, with the adjustments in words."""
    notes = [f"policy max risk {max_risk_pct:.3%}"]
    if profile_factor(risk_profile) != 1.0:
        notes.append(f"{risk_profile} profile x{profile_factor(risk_profile):.1f}")
    if confidence_factor(confidence) != 1.0:
        notes.append(f"confidence {confidence:.2f} x{confidence_factor(confidence):.1f}")
    value = scaled_risk_pct(max_risk_pct, risk_profile, confidence)
    clamped = min(max(value, profile.min_risk_pct), profile.max_risk_pct)
    if clamped != value:
        notes.append(f"risk {value:.3%} clamped to {clamped:.3%}")
    return clamped, tuple(notes)


def size_position(
    *,
    side: Side,
    price: Decimal,
    atr: float,
    confidence: float,
    equity: Decimal,
    max_risk_pct: float,
    risk_profile: str,
    profile: RiskProfile,
    risk: RiskSettings,
    exit_params: ExitModeParams,
    filters: SymbolFilters,
    leverage: int,
    open_notional: Decimal = Decimal(0),
) -> SizedOrder | SizingRejected:
    """Size one entry. `max_risk_pct`/`risk_profile` come from the policy (or, with
    use_for_risk_sizing off, the profile's base risk and name); `leverage` is the account's,
    `open_notional` the gross notional of the positions open now."""
    if equity <= 0:
        return SizingRejected(reason=f"no equity to risk ({equity})")
    if price <= 0:
        return SizingRejected(reason=f"no valid price ({price})")
    risk_pct, notes = final_risk_pct(
        max_risk_pct=max_risk_pct, risk_profile=risk_profile, confidence=confidence, profile=profile
    )
    adjustments = list(notes)
    risk_usd = equity * to_decimal(risk_pct)

    entry = round_entry_price(price, filters.tick_size, side)
    if entry <= 0:
        return SizingRejected(reason=f"price {price} rounds to nothing at tick {filters.tick_size}")
    stop = _stop_price(side, entry, atr, exit_params, filters, adjustments)
    if isinstance(stop, SizingRejected):
        return stop
    distance = abs(entry - stop)

    ceiling = _ceiling(equity, leverage, open_notional, risk)
    if isinstance(ceiling, SizingRejected):
        return ceiling
    quantity = _clamped_quantity(risk_usd / distance, entry, ceiling, risk, filters.step_size, adjustments)
    if isinstance(quantity, SizingRejected):
        return quantity
    quantity = round_down_to_step(quantity, filters.step_size)
    notional = quantity * entry
    if quantity <= 0 or quantity < filters.min_qty:
        return SizingRejected(
            reason=f"quantity {quantity} after rounding to step {filters.step_size} is below min qty {filters.min_qty}"
        )
    if notional < filters.min_notional:
        return SizingRejected(reason=f"notional {notional} is below the exchange minimum {filters.min_notional}")
    risk_at_stop = quantity * distance
    # Raising to min_position_usd may buy more risk than the budget: allow it only up to
    # the profile's ceiling, otherwise the minimum size itself is too big for this account.
    if risk_at_stop > equity * to_decimal(profile.max_risk_pct):
        return SizingRejected(
            reason=f"risk at stop {risk_at_stop:.2f} exceeds the profile maximum {profile.max_risk_pct:.2%} of equity"
        )
    return SizedOrder(
        side=side,
        quantity=quantity,
        entry_price=entry,
        stop_price=stop,
        stop_distance=distance,
        risk_pct=risk_pct,
        risk_usd=risk_usd,
        risk_at_stop=risk_at_stop,
        notional=notional,
        adjustments=tuple(adjustments),
    )


def _stop_price(
    side: Side,
    entry: Decimal,
    atr: float,
    exit_params: ExitModeParams,
    filters: SymbolFilters,
    adjustments: list[str],
) -> Decimal | SizingRejected:
    if not atr > 0:  # also catches NaN from a short indicator history
        return SizingRejected(reason=f"no ATR to place a stop ({atr})")
    atr_distance = to_decimal(atr) * to_decimal(exit_params.atr_multiplier_sl)
    cap = entry * to_decimal(exit_params.stop_loss_pct)
    distance = min(atr_distance, cap)
    if atr_distance > cap:
        adjustments.append(f"ATR stop {atr_distance} capped at {exit_params.stop_loss_pct:.1%} of price")
    stop = round_price_toward(entry - side.sign * distance, filters.tick_size, entry)
    if stop == entry or stop <= 0:
        return SizingRejected(reason=f"stop distance {distance} rounds to nothing at tick {filters.tick_size}")
    return stop


@dataclass(frozen=True, slots=True)
class _Ceiling:
    usd: Decimal
    why: str  # which limit it is, for the adjustment note


def _ceiling(equity: Decimal, leverage: int, open_notional: Decimal, risk: RiskSettings) -> _Ceiling | SizingRejected:
    """The most notional this order may have: the max position size, or what the account's leverage leaves."""
    allowed = equity * leverage
    left = allowed - abs(open_notional)
    if left <= 0:
        return SizingRejected(
            reason=f"no margin left at the account's leverage {leverage}x: open notional {abs(open_notional):.2f} "
            f"of {allowed:.2f} USD (equity {equity:.2f} x {leverage})"
        )
    if risk.max_position_usd <= left:
        return _Ceiling(risk.max_position_usd, "max position size")
    held = f", {abs(open_notional):.2f} already open" if open_notional else ""
    return _Ceiling(left, f"account leverage {leverage}x of equity {equity:.2f}{held}")


def _clamped_quantity(
    quantity: Decimal,
    entry: Decimal,
    ceiling: _Ceiling,
    risk: RiskSettings,
    step: Decimal,
    adjustments: list[str],
) -> Decimal | SizingRejected:
    if risk.min_position_usd > ceiling.usd:
        return SizingRejected(
            reason=f"min position {risk.min_position_usd} USD exceeds the {ceiling.usd:.2f} USD that {ceiling.why} "
            "allows"
        )
    notional = quantity * entry
    if notional > ceiling.usd:
        adjustments.append(f"notional {notional:.2f} clamped to {ceiling.usd:.2f} USD ({ceiling.why})")
        return ceiling.usd / entry
    if notional < risk.min_position_usd:
        # Up to the step, or the later round-down would land just under the minimum again.
        raised = round_up_to_step(risk.min_position_usd / entry, step)
        if raised * entry > ceiling.usd:
            return SizingRejected(
                reason=f"min position {risk.min_position_usd} USD needs {raised} at step {step}, "
                f"above the {ceiling.usd:.2f} USD that {ceiling.why} allows"
            )
        adjustments.append(f"notional {notional:.2f} raised to min position {risk.min_position_usd} USD")
        return raised
    return quantity
