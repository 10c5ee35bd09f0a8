"""The global risk controller: position count, correlation, symbol and total exposure."""

from __future__ import annotations

from decimal import Decimal

from actors.messages import DecisionReason, Side
from actors.orchestrator.policy import fallback_policy
from actors.risk.limits import PositionLimits, check_new_position, correlation_lookup
from config.profiles import DEFAULT_PROFILES, RiskProfileName

SAFE_LIMITS = PositionLimits.from_profile(DEFAULT_PROFILES[RiskProfileName.SAFE])  # 5 / 2 / 5% / 10%
EQUITY = Decimal("10000")
NO_CORRELATION = correlation_lookup(())
L, S = Side.LONG, Side.SHORT
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", *(f"S{i}USDT" for i in range(5)))
# Every pair known and uncorrelated: the tests of the other limits need the correlation cap out of the way.
UNCORRELATED = correlation_lookup(tuple((a, b, 0.0) for i, a in enumerate(SYMBOLS) for b in SYMBOLS[i + 1 :]))


def check(symbol="BTCUSDT", side=L, notional="100", exposures=(), correlation=UNCORRELATED, limits=SAFE_LIMITS):
    return check_new_position(
        symbol=symbol,
        side=side,
        notional=Decimal(notional),
        equity=EQUITY,
        open_exposures=tuple((s, sd, Decimal(n)) for s, sd, n in exposures),
        limits=limits,
        correlation=correlation,
        correlation_threshold=0.7,
    )


def test_check_new_position_within_limits_allowed():
    verdict = check(exposures=(("ETHUSDT", L, "200"),))
    assert verdict.allowed is True
    assert verdict.reason is DecisionReason.ACCEPTED
    assert "2/5 positions" in verdict.detail


def test_check_new_position_at_max_positions_blocked():
    exposures = tuple((f"S{i}USDT", L, "10") for i in range(5))
    verdict = check(exposures=exposures)
    assert verdict.allowed is False
    assert verdict.reason is DecisionReason.BLOCKED_BY_POSITION_LIMIT
    assert "5 open positions, limit 5" in verdict.detail


def test_check_new_position_two_correlated_same_side_blocked():
    corr = correlation_lookup((("BTCUSDT", "ETHUSDT", 0.85), ("SOLUSDT", "BTCUSDT", 0.75)))
    verdict = check(exposures=(("ETHUSDT", L, "100"), ("SOLUSDT", L, "100")), correlation=corr)
    assert verdict.reason is DecisionReason.BLOCKED_BY_POSITION_LIMIT
    assert "ETHUSDT, SOLUSDT" in verdict.detail


def test_check_new_position_one_correlated_allowed():
    corr = correlation_lookup((("BTCUSDT", "ETHUSDT", 0.85), ("SOLUSDT", "BTCUSDT", 0.5)))
    verdict = check(exposures=(("ETHUSDT", L, "100"), ("SOLUSDT", L, "100")), correlation=corr)
    assert verdict.allowed is True


def test_check_new_position_correlation_at_threshold_not_counted():
    corr = correlation_lookup((("BTCUSDT", "ETHUSDT", 0.7), ("SOLUSDT", "BTCUSDT", 0.7)))
    assert check(exposures=(("ETHUSDT", L, "100"), ("SOLUSDT", L, "100")), correlation=corr).allowed


def test_check_new_position_opposite_sides_of_correlated_pair_hedge_allowed():
    corr = correlation_lookup((("BTCUSDT", "ETHUSDT", 0.9), ("SOLUSDT", "BTCUSDT", 0.9)))
    verdict = check(side=L, exposures=(("ETHUSDT", S, "100"), ("SOLUSDT", S, "100")), correlation=corr)
    assert verdict.allowed is True


def test_check_new_position_opposite_sides_of_anticorrelated_pair_blocked():
    corr = correlation_lookup((("BTCUSDT", "ETHUSDT", -0.9), ("SOLUSDT", "BTCUSDT", -0.8)))
    verdict = check(side=L, exposures=(("ETHUSDT", S, "100"), ("SOLUSDT", S, "100")), correlation=corr)
    assert verdict.reason is DecisionReason.BLOCKED_BY_POSITION_LIMIT


def test_check_new_position_unknown_correlation_counts_as_correlated():
    corr = correlation_lookup((("BTCUSDT", "ETHUSDT", 0.95),))  # SOLUSDT pair unknown
    verdict = check(exposures=(("ETHUSDT", L, "100"), ("SOLUSDT", L, "100")), correlation=corr)
    assert verdict.reason is DecisionReason.BLOCKED_BY_POSITION_LIMIT
    assert "ETHUSDT, SOLUSDT (no correlation known yet)" in verdict.detail


def test_check_new_position_no_correlations_at_all_block_past_the_cap():
    """Right after a start without history every pair is unknown: the cap still holds, it is not wide open."""
    assert check(exposures=(("ETHUSDT", S, "100"),), correlation=NO_CORRELATION).allowed
    verdict = check(exposures=(("ETHUSDT", S, "100"), ("SOLUSDT", L, "100")), correlation=NO_CORRELATION)
    assert verdict.reason is DecisionReason.BLOCKED_BY_POSITION_LIMIT and "limit 2" in verdict.detail


def test_check_new_position_known_uncorrelated_pairs_allowed():
    assert check(exposures=(("ETHUSDT", L, "100"), ("SOLUSDT", L, "100")), correlation=UNCORRELATED).allowed


def test_check_new_position_symbol_exposure_over_cap_blocked():
    verdict = check(notional="300", exposures=(("BTCUSDT", L, "250"),))
    assert verdict.allowed is False
    assert verdict.reason is DecisionReason.BLOCKED_BY_EXPOSURE
    assert verdict.detail == "BTCUSDT exposure would be 5.50% of equity > cap 5.00%"


def test_check_new_position_symbol_exposure_exactly_at_cap_allowed():
    assert check(notional="250", exposures=(("BTCUSDT", L, "250"),)).allowed


def test_check_new_position_total_exposure_over_cap_blocked():
    exposures = (("ETHUSDT", L, "400"), ("SOLUSDT", S, "-400"), ("XRPUSDT", L, "150"))
    verdict = check(notional="100", exposures=exposures)
    assert verdict.reason is DecisionReason.BLOCKED_BY_EXPOSURE
    assert "total exposure would be 10.50%" in verdict.detail  # gross: the short adds, not nets


def test_check_new_position_oversized_order_blocked_not_shrunk():
    verdict = check(notional="5000")
    assert verdict.allowed is False
    assert "50.00% of equity" in verdict.detail


def test_check_new_position_no_equity_blocked():
    verdict = check_new_position(
        symbol="BTCUSDT",
        side=L,
        notional=Decimal("1"),
        equity=Decimal("0"),
        open_exposures=(),
        limits=SAFE_LIMITS,
        correlation=NO_CORRELATION,
        correlation_threshold=0.7,
    )
    assert verdict.reason is DecisionReason.BLOCKED_BY_EXPOSURE


def test_position_limits_from_policy_copies_policy_limits():
    limits = PositionLimits.from_policy(fallback_policy(DEFAULT_PROFILES[RiskProfileName.AGGRESSIVE], "test"))
    assert limits == PositionLimits(
        max_open_positions=10, max_correlated_positions=4, max_symbol_exposure_pct=0.10, max_total_exposure_pct=0.20
    )


def test_correlation_lookup_is_symmetric():
    lookup = correlation_lookup((("BTCUSDT", "ETHUSDT", 0.8),))
    assert lookup("ETHUSDT", "BTCUSDT") == 0.8
    assert lookup("BTCUSDT", "SOLUSDT") is None
