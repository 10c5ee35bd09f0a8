"""Max open positions by regime (DESIGN.md's "max open positions by regime"; seed 000's step 3). Pure.

The profile's number in a trend with LOW or NORMAL volatility; 80% of it in SIDEWAYS; 60% in CHOPPY or with
HIGH volatility, whatever the regime. Rounded down, never below one position. EXTREME volatility counts as HIGH:
it closes the gate anyway, and the number is then already right when the gate reopens. The risk controller
enforces the number under `use_for_position_limits`; the gate's "max open positions" closure stays at the
profile's number, so a regime change alone never closes the gate (seed 002's scenario 2 keeps trading).
"""

from __future__ import annotations

from functools import lru_cache

from actors.messages import Regime, VolatilityLevel

TRENDING = frozenset({Regime.TRENDING_UP, Regime.TRENDING_DOWN})
CALM = frozenset({VolatilityLevel.LOW, VolatilityLevel.NORMAL})

FULL_PCT = 100
SIDEWAYS_PCT = 80
STRESSED_PCT = 60  # CHOPPY, or HIGH (or EXTREME) volatility


def open_positions_pct(regime: Regime, volatility: VolatilityLevel) -> int:
    """The percent of the profile's max open positions allowed in these conditions."""
    if volatility not in CALM or regime is Regime.CHOPPY:
        return STRESSED_PCT
    if regime is Regime.SIDEWAYS:
        return SIDEWAYS_PCT
    return FULL_PCT


def max_open_positions(profile_max: int, regime: Regime, volatility: VolatilityLevel) -> int:
    # Integer arithmetic: 5 x 0.8 in floats is 4.000000000000001, and 0.6 x 10 might not floor to 6.
    return max(1, profile_max * open_positions_pct(regime, volatility) // 100)


@lru_cache(maxsize=64)  # a pure function of a few values, in every policy's note: the same text each time
def describe(profile_max: int, regime: Regime, volatility: VolatilityLevel) -> str:
    """The number in force, for the policy's note."""
    pct = open_positions_pct(regime, volatility)
    limit = max_open_positions(profile_max, regime, volatility)
    if pct == FULL_PCT:
        return f"max {limit} open positions"
    return f"max {limit} open positions ({pct}% of {profile_max}: {regime}, {volatility} volatility)"
