"""The global risk controller: may one more position open under the limits in force?

Choices, documented once here:
- An order that would breach an exposure cap is BLOCKED, never shrunk to fit: the
  decision row then says exactly which cap and by how much, and sizing stays the one
  place that decides a quantity. (Shrinking would also hide the block from the audit.)
- Exposure is open risk (DESIGN.md: "Exposure is open risk"): what a position loses if its
  stop fills, as a fraction of equity. The caller passes risk at stop, in `notional` and in
  `open_exposures` alike (the caps, a few percent of equity, only make sense against risk at
  1-2% risk per trade). A LONG and a SHORT do not net, because each can be stopped out on
  its own.
- "Correlated" means the other position moves with this one: same side and return
  correlation above the threshold, or opposite sides and correlation below minus the
  threshold (short ETH with short BTC piles up; long BTC against short ETH hedges).
  The cap counts positions in other symbols; the same symbol is the symbol-exposure
  cap's job. An unknown correlation (a symbol with less history than the lookback, or
  a price that did not move over it) counts as correlated: not knowing is no reason to
  pile up positions. The warm-up at start gives a full lookback of history, so this
  binds only for a symbol without it.
- Checks run cheapest-to-explain first: open positions, correlated positions, symbol
  exposure, total exposure; the first breach is the verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from actors.messages import DecisionReason, Side, TradingPolicy
from config.profiles import RiskProfile
from exchange.market import to_decimal

CorrelationLookup = Callable[[str, str], float | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionLimits:
    max_open_positions: int
    max_correlated_positions: int
    max_symbol_exposure_pct: float
    max_total_exposure_pct: float

    @classmethod
    def from_policy(cls, policy: TradingPolicy) -> PositionLimits:
        return cls(
            max_open_positions=policy.max_open_positions,
            max_correlated_positions=policy.max_correlated_positions,
            max_symbol_exposure_pct=policy.max_symbol_exposure_pct,
            max_total_exposure_pct=policy.max_total_exposure_pct,
        )

    @classmethod
    def from_profile(cls, profile: RiskProfile) -> PositionLimits:
        """For use_for_position_limits off: the configured profile's limits still apply."""
        return cls(
            max_open_positions=profile.max_open_positions,
            max_correlated_positions=profile.max_correlated_positions,
            max_symbol_exposure_pct=profile.max_symbol_exposure_pct,
            max_total_exposure_pct=profile.max_total_exposure_pct,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitVerdict:
    allowed: bool
    reason: DecisionReason  # ACCEPTED when allowed
    detail: str


def correlation_lookup(pairs: tuple[tuple[str, str, float], ...]) -> CorrelationLookup:
    """A symmetric lookup over `Step.correlations`; None for an unknown pair (which counts as correlated)."""
    table: dict[frozenset[str], float] = {frozenset((a, b)): value for a, b, value in pairs}

    def lookup(first: str, second: str) -> float | None:
        return table.get(frozenset((first, second)))

    return lookup


def check_new_position(
    *,
    symbol: str,
    side: Side,
    notional: Decimal,
    equity: Decimal,
    open_exposures: tuple[tuple[str, Side, Decimal], ...],
    limits: PositionLimits,
    correlation: CorrelationLookup,
    correlation_threshold: float,
) -> LimitVerdict:
    """Allow or block one new position whose exposure (its risk at stop, USD) is `notional`;
    `open_exposures` are (symbol, side, risk at stop) of the positions open now."""
    if equity <= 0:
        return _blocked(DecisionReason.BLOCKED_BY_EXPOSURE, f"no equity ({equity}) to carry exposure")
    count = len(open_exposures)
    if count >= limits.max_open_positions:
        return _blocked(
            DecisionReason.BLOCKED_BY_POSITION_LIMIT, f"{count} open positions, limit {limits.max_open_positions}"
        )

    correlated = _correlated_with(symbol, side, open_exposures, correlation, correlation_threshold)
    if len(correlated) >= limits.max_correlated_positions:
        return _blocked(
            DecisionReason.BLOCKED_BY_POSITION_LIMIT,
            f"{symbol} {side} is correlated (|r| > {correlation_threshold:.2f}) with "
            f"{len(correlated)} open positions ({', '.join(correlated)}), "
            f"limit {limits.max_correlated_positions}",
        )

    size = abs(notional)
    symbol_after = sum((abs(n) for s, _, n in open_exposures if s == symbol), Decimal(0)) + size
    symbol_pct = symbol_after / equity
    if symbol_pct > to_decimal(limits.max_symbol_exposure_pct):
        return _blocked(
            DecisionReason.BLOCKED_BY_EXPOSURE,
            f"{symbol} exposure would be {symbol_pct:.2%} of equity > cap {limits.max_symbol_exposure_pct:.2%}",
        )

    total_after = sum((abs(n) for _, _, n in open_exposures), Decimal(0)) + size
    total_pct = total_after / equity
    if total_pct > to_decimal(limits.max_total_exposure_pct):
        return _blocked(
            DecisionReason.BLOCKED_BY_EXPOSURE,
            f"total exposure would be {total_pct:.2%} of equity > cap {limits.max_total_exposure_pct:.2%}",
        )

    return LimitVerdict(
        allowed=True,
        reason=DecisionReason.ACCEPTED,
        detail=f"within limits: {count + 1}/{limits.max_open_positions} positions, "
        f"{symbol} {symbol_pct:.2%}, total {total_pct:.2%} of equity",
    )


def _correlated_with(
    symbol: str,
    side: Side,
    open_exposures: tuple[tuple[str, Side, Decimal], ...],
    correlation: CorrelationLookup,
    threshold: float,
) -> tuple[str, ...]:
    found = []
    for other, other_side, _ in open_exposures:
        if other == symbol:
            continue
        value = correlation(symbol, other)
        if value is None:
            found.append(f"{other} (no correlation known yet)")
        # Effective co-movement: the correlation as seen through both positions' sides.
        elif value * side.sign * other_side.sign > threshold:
            found.append(other)
    return tuple(found)


def _blocked(reason: DecisionReason, detail: str) -> LimitVerdict:
    return LimitVerdict(allowed=False, reason=reason, detail=detail)
