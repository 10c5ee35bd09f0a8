"""Max open positions by regime: DESIGN.md's row, every regime and volatility level, every profile."""

from __future__ import annotations

import pytest

from actors.messages import Regime, VolatilityLevel
from actors.orchestrator.policy import PolicyInputs, compute_policy
from actors.orchestrator.regime_limits import describe, max_open_positions, open_positions_pct
from actors.risk.limits import PositionLimits
from actors.risk.terms import risk_terms
from config import IntegrationFlags, Settings

LOW, NORMAL, HIGH, EXTREME = VolatilityLevel.LOW, VolatilityLevel.NORMAL, VolatilityLevel.HIGH, VolatilityLevel.EXTREME
UP, DOWN, SIDEWAYS, CHOPPY = Regime.TRENDING_UP, Regime.TRENDING_DOWN, Regime.SIDEWAYS, Regime.CHOPPY

# The whole table: regime x volatility -> percent of the profile's number.
TABLE = {
    (UP, LOW): 100,
    (UP, NORMAL): 100,
    (DOWN, LOW): 100,
    (DOWN, NORMAL): 100,
    (SIDEWAYS, LOW): 80,
    (SIDEWAYS, NORMAL): 80,
    (CHOPPY, LOW): 60,
    (CHOPPY, NORMAL): 60,
    **{(regime, level): 60 for regime in Regime for level in (HIGH, EXTREME)},
}


def test_regime_limits_table_covers_every_regime_and_level() -> None:
    assert set(TABLE) == {(regime, level) for regime in Regime for level in VolatilityLevel}


@pytest.mark.parametrize(("conditions", "pct"), sorted(TABLE.items()))
def test_regime_limits_percent_matches_design_table(conditions: tuple[Regime, VolatilityLevel], pct: int) -> None:
    assert open_positions_pct(*conditions) == pct


@pytest.mark.parametrize(
    ("profile_max", "full", "sideways", "stressed"),
    [
        (5, 5, 4, 3),  # SAFE
        (8, 8, 6, 4),  # MODERATE: 6.4 and 4.8 round down
        (10, 10, 8, 6),  # AGGRESSIVE: exact in integers, where 10 x 0.6 in floats is not trusted
        (1, 1, 1, 1),  # never below one position
        (2, 2, 1, 1),
    ],
)
def test_regime_limits_round_down_and_keep_at_least_one(
    profile_max: int, full: int, sideways: int, stressed: int
) -> None:
    assert max_open_positions(profile_max, UP, NORMAL) == full
    assert max_open_positions(profile_max, SIDEWAYS, LOW) == sideways
    assert max_open_positions(profile_max, CHOPPY, NORMAL) == stressed
    assert max_open_positions(profile_max, UP, HIGH) == stressed


def test_regime_limits_describe_names_the_number_and_why() -> None:
    assert describe(5, UP, NORMAL) == "max 5 open positions"
    assert describe(8, SIDEWAYS, NORMAL) == "max 6 open positions (80% of 8: SIDEWAYS, NORMAL volatility)"
    assert describe(10, UP, HIGH) == "max 6 open positions (60% of 10: TRENDING_UP, HIGH volatility)"


def test_regime_limits_reach_risk_only_under_use_for_position_limits() -> None:
    settings = Settings()
    policy = compute_policy(
        PolicyInputs(regime=SIDEWAYS, volatility=NORMAL), settings.profile, settings.risk.profile, settings.risk
    )
    on = risk_terms(policy, IntegrationFlags(), settings).limits
    off = risk_terms(policy, IntegrationFlags(use_for_position_limits=False), settings).limits
    assert on.max_open_positions == 4 and on == PositionLimits.from_policy(policy)
    assert off.max_open_positions == 5 and off == PositionLimits.from_profile(settings.profile)
