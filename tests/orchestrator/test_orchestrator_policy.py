"""The policy of DESIGN.md, row by row, and seed 002's four policy-switching scenarios."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.messages import Regime, SymbolCosts, VolatilityLevel
from actors.orchestrator.policy import (
    GateTarget,
    PolicyInputs,
    RiskState,
    SymbolPerformance,
    compute_policy,
    desired_gate,
    fallback_policy,
)
from config.profiles import DEFAULT_PROFILES, ExitMode, RiskProfileName
from config.sections import RiskSettings

SAFE = RiskProfileName.SAFE
MODERATE = RiskProfileName.MODERATE
AGGRESSIVE = RiskProfileName.AGGRESSIVE
RISK = RiskSettings()
UNIVERSE = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")


def policy_for(name: RiskProfileName, **fields):
    inputs = PolicyInputs(
        **({"regime": Regime.TRENDING_UP, "volatility": VolatilityLevel.NORMAL, "symbols": UNIVERSE} | fields)
    )
    return compute_policy(inputs, DEFAULT_PROFILES[name], name, RISK)


# --- seed 002, "Example: Policy Switching Scenarios" -------------------------------------


def test_policy_seed_scenario1_normal_trading_moderate_trend_follow():
    # Seed scenario 1's max_risk_pct 0.015 is the MODERATE base risk, so it runs MODERATE.
    policy = policy_for(
        MODERATE,
        regime=Regime.TRENDING_UP,
        volatility=VolatilityLevel.NORMAL,
        risk_state=RiskState(daily_drawdown_pct=-0.005, open_positions=2, total_exposure_pct=0.04),
    )
    assert policy.allow_new_trades is True
    assert policy.min_confidence == 0.45
    assert policy.max_risk_pct == 0.015
    assert policy.exit_mode is ExitMode.TREND_FOLLOW
    assert policy.risk_profile == "MODERATE"


def test_policy_seed_scenario2_high_volatility_moderate_reduced():
    # Seed scenario 2's 0.008 is MODERATE's HIGH-volatility risk (SAFE would give 0.005).
    policy = policy_for(
        MODERATE,
        regime=Regime.SIDEWAYS,
        volatility=VolatilityLevel.HIGH,
        risk_state=RiskState(daily_drawdown_pct=-0.012, open_positions=4, total_exposure_pct=0.08),
    )
    assert policy.allow_new_trades is True
    assert policy.min_confidence == 0.60
    assert policy.max_risk_pct == 0.008
    assert policy.exit_mode is ExitMode.FAST_TP
    assert policy.risk_profile == "REDUCED"


def test_policy_seed_scenario3_extreme_volatility_safe_shutdown():
    # Seed scenario 3 shows SAFE's limits (3/5 positions, 6%/10% exposure).
    policy = policy_for(
        SAFE,
        regime=Regime.CHOPPY,
        volatility=VolatilityLevel.EXTREME,
        risk_state=RiskState(daily_drawdown_pct=-0.018, open_positions=3, total_exposure_pct=0.06),
    )
    assert policy.allow_new_trades is False
    assert policy.min_confidence == 0.70
    assert policy.max_risk_pct == 0.005
    assert policy.exit_mode is ExitMode.DEFENSIVE_TRAIL
    assert policy.risk_profile == "NO_NEW_TRADES"
    assert "EXTREME volatility" in policy.note


def test_policy_seed_scenario4_daily_dd_limit_safe_shutdown():
    # -2.6% only exceeds SAFE's -2.5% limit (MODERATE's is -4%), so this scenario runs SAFE.
    policy = policy_for(
        SAFE,
        regime=Regime.TRENDING_DOWN,
        volatility=VolatilityLevel.NORMAL,
        risk_state=RiskState(daily_drawdown_pct=-0.026, open_positions=4, total_exposure_pct=0.07),
    )
    assert policy.allow_new_trades is False
    assert policy.min_confidence == 0.60
    assert policy.max_risk_pct == 0.005
    assert policy.exit_mode is ExitMode.FAST_TP
    assert policy.risk_profile == "NO_NEW_TRADES"
    assert policy.note.startswith("Daily DD limit hit (-2.60%)")


def test_policy_seed_scenario4_under_moderate_keeps_trading():
    policy = policy_for(
        MODERATE,
        regime=Regime.TRENDING_DOWN,
        risk_state=RiskState(daily_drawdown_pct=-0.026, open_positions=4, total_exposure_pct=0.07),
    )
    assert policy.allow_new_trades is True
    assert policy.exit_mode is ExitMode.TREND_FOLLOW


# --- base risk, confidence, stress ----------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [(SAFE, 0.01), (MODERATE, 0.015), (AGGRESSIVE, 0.02)])
def test_policy_base_risk_by_profile_matches_table(name, expected):
    policy = policy_for(name)
    assert policy.max_risk_pct == expected
    assert policy.risk_profile == str(name)


@pytest.mark.parametrize(
    ("volatility", "expected"),
    [
        (VolatilityLevel.LOW, 0.45),
        (VolatilityLevel.NORMAL, 0.45),
        (VolatilityLevel.HIGH, 0.60),
        (VolatilityLevel.EXTREME, 0.70),
    ],
)
def test_policy_min_confidence_by_volatility_matches_table(volatility, expected):
    assert policy_for(SAFE, volatility=volatility).min_confidence == expected


def test_policy_drawdown_with_extreme_volatility_keeps_higher_confidence():
    policy = policy_for(SAFE, volatility=VolatilityLevel.EXTREME, risk_state=RiskState(daily_drawdown_pct=-0.03))
    assert policy.min_confidence == 0.70


@pytest.mark.parametrize(("name", "expected"), [(SAFE, 0.005), (MODERATE, 0.008), (AGGRESSIVE, 0.010)])
def test_policy_high_volatility_caps_risk_per_profile(name, expected):
    assert policy_for(name, volatility=VolatilityLevel.HIGH).max_risk_pct == expected


@pytest.mark.parametrize("name", [SAFE, MODERATE, AGGRESSIVE])
def test_policy_extreme_volatility_risk_is_floor(name):
    assert policy_for(name, volatility=VolatilityLevel.EXTREME).max_risk_pct == 0.005


def test_policy_gate_closed_by_max_positions_risk_is_floor():
    policy = policy_for(AGGRESSIVE, risk_state=RiskState(open_positions=10))
    assert policy.allow_new_trades is False
    assert policy.max_risk_pct == 0.005
    assert policy.risk_profile == "NO_NEW_TRADES"
    assert "Max open positions reached (10/10)" in policy.note


def test_policy_drawdown_at_exact_limit_closes_gate():
    policy = policy_for(MODERATE, risk_state=RiskState(daily_drawdown_pct=-0.04))
    assert policy.allow_new_trades is False


def test_policy_drawdown_just_inside_limit_keeps_gate_open():
    policy = policy_for(AGGRESSIVE, risk_state=RiskState(daily_drawdown_pct=-0.059))
    assert policy.allow_new_trades is True


# --- exit mode -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("regime", "volatility", "expected"),
    [
        (Regime.TRENDING_UP, VolatilityLevel.LOW, ExitMode.TREND_FOLLOW),
        (Regime.TRENDING_DOWN, VolatilityLevel.NORMAL, ExitMode.TREND_FOLLOW),
        (Regime.TRENDING_UP, VolatilityLevel.HIGH, ExitMode.FAST_TP),
        (Regime.SIDEWAYS, VolatilityLevel.LOW, ExitMode.FAST_TP),
        (Regime.CHOPPY, VolatilityLevel.NORMAL, ExitMode.FAST_TP),
        (Regime.TRENDING_UP, VolatilityLevel.EXTREME, ExitMode.DEFENSIVE_TRAIL),
        (Regime.SIDEWAYS, VolatilityLevel.EXTREME, ExitMode.DEFENSIVE_TRAIL),
    ],
)
def test_policy_exit_mode_by_regime_and_volatility_matches_table(regime, volatility, expected):
    assert policy_for(SAFE, regime=regime, volatility=volatility).exit_mode is expected


def test_policy_drawdown_hit_in_trend_never_trend_follow():
    policy = policy_for(
        SAFE, regime=Regime.TRENDING_UP, volatility=VolatilityLevel.LOW, risk_state=RiskState(daily_drawdown_pct=-0.025)
    )
    assert policy.exit_mode is ExitMode.FAST_TP


# --- allow_new_trades -------------------------------------------------------------------------


def test_policy_total_exposure_at_cap_blocks_new_trades():
    policy = policy_for(SAFE, risk_state=RiskState(total_exposure_pct=0.10))
    assert policy.allow_new_trades is False
    assert "Total exposure cap reached" in policy.note


def test_policy_exposure_below_cap_allows_new_trades():
    assert policy_for(SAFE, risk_state=RiskState(total_exposure_pct=0.099, open_positions=4)).allow_new_trades


def test_policy_gate_hold_reason_blocks_new_trades():
    policy = policy_for(SAFE, gate_hold_reason="operator halt")
    assert policy.allow_new_trades is False
    assert policy.risk_profile == "NO_NEW_TRADES"
    assert "operator halt" in policy.note


# --- losing streak ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "streak", "expected"),
    [
        (SAFE, 3, 0.007),
        (SAFE, 2, 0.01),
        (MODERATE, 4, 0.0105),
        (MODERATE, 3, 0.015),
        (AGGRESSIVE, 5, 0.014),
        (AGGRESSIVE, 4, 0.02),
    ],
)
def test_policy_losing_streak_at_threshold_cuts_risk(name, streak, expected):
    policy = policy_for(name, risk_state=RiskState(losing_streak=streak))
    assert policy.max_risk_pct == pytest.approx(expected)


def test_policy_losing_streak_cut_stops_at_floor():
    policy = policy_for(MODERATE, volatility=VolatilityLevel.HIGH, risk_state=RiskState(losing_streak=4))
    assert policy.max_risk_pct == pytest.approx(0.0056)  # 0.008 x 0.7, still above the 0.005 floor
    policy = policy_for(SAFE, volatility=VolatilityLevel.HIGH, risk_state=RiskState(losing_streak=3))
    assert policy.max_risk_pct == 0.005
    assert "Losing streak of 3" in policy.note


# --- disallowed symbols -----------------------------------------------------------------------


def perf(symbol: str, trades: int, win_rate: float, avg_r: float) -> SymbolPerformance:
    return SymbolPerformance(symbol=symbol, closed_trades=trades, win_rate=win_rate, avg_r=avg_r, pnl=Decimal("-12.5"))


def test_policy_poor_performer_is_disallowed():
    policy = policy_for(SAFE, performance=(perf("XRPUSDT", 12, 0.30, 0.2),))
    assert policy.disallowed_symbols == ("XRPUSDT",)
    assert "XRPUSDT" not in policy.allowed_symbols
    assert policy.allowed_symbols == ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT")
    assert "Disallowed XRPUSDT" in policy.note


@pytest.mark.parametrize("stats", [(9, 0.30, 0.2), (12, 0.35, 0.2), (12, 0.30, 0.5)])
def test_policy_performer_missing_one_condition_stays_allowed(stats):
    trades, win_rate, avg_r = stats
    policy = policy_for(SAFE, performance=(perf("XRPUSDT", trades, win_rate, avg_r),))
    assert policy.disallowed_symbols == ()
    assert "XRPUSDT" in policy.allowed_symbols


def test_policy_wide_spread_is_disallowed():
    policy = policy_for(
        SAFE, costs=(SymbolCosts(symbol="SOLUSDT", spread_bps=15.1), SymbolCosts(symbol="ETHUSDT", spread_bps=15.0))
    )
    assert policy.disallowed_symbols == ("SOLUSDT",)
    assert "SOLUSDT" not in policy.allowed_symbols and "ETHUSDT" in policy.allowed_symbols
    assert "Disallowed SOLUSDT: spread 15.1 bps > 15.0 cap" in policy.note


def test_policy_realised_slippage_above_cap_is_disallowed_with_that_reason():
    slipping = SymbolCosts(symbol="XRPUSDT", spread_bps=2.0, slippage_bps=24.5, slippage_fills=6)
    fine = SymbolCosts(symbol="BTCUSDT", spread_bps=0.1, slippage_bps=19.9, slippage_fills=20)
    policy = policy_for(SAFE, costs=(slipping, fine))
    assert policy.disallowed_symbols == ("XRPUSDT",)
    assert "Disallowed XRPUSDT: slippage 24.5 bps over 6 fills > 20.0 cap" in policy.note


def test_policy_symbol_over_both_caps_and_poor_performance_lists_every_reason_once():
    costs = (SymbolCosts(symbol="XRPUSDT", spread_bps=30.0, slippage_bps=40.0, slippage_fills=5),)
    policy = policy_for(SAFE, costs=costs, performance=(perf("XRPUSDT", 12, 0.30, 0.2),))
    assert policy.disallowed_symbols == ("XRPUSDT",)
    assert policy.note.count("Disallowed XRPUSDT") == 1
    assert "win rate 30%" in policy.note and "spread 30.0 bps" in policy.note and "slippage 40.0 bps" in policy.note


def test_policy_disallowed_symbols_follow_universe_order():
    policy = policy_for(
        SAFE,
        performance=(perf("XRPUSDT", 20, 0.1, 0.0), perf("ETHUSDT", 20, 0.1, 0.0)),
        costs=(SymbolCosts(symbol="DOGEUSDT", spread_bps=40.0),),
    )
    assert policy.disallowed_symbols == ("ETHUSDT", "XRPUSDT", "DOGEUSDT")


def test_policy_position_limits_come_from_profile_in_a_calm_trend():
    policy = policy_for(MODERATE)
    assert (policy.max_open_positions, policy.max_correlated_positions) == (8, 3)
    assert (policy.max_symbol_exposure_pct, policy.max_total_exposure_pct) == (0.07, 0.15)


@pytest.mark.parametrize(
    ("regime", "volatility", "expected"),
    [
        (Regime.SIDEWAYS, VolatilityLevel.NORMAL, 6),
        (Regime.CHOPPY, VolatilityLevel.LOW, 4),
        (Regime.TRENDING_DOWN, VolatilityLevel.HIGH, 4),
    ],
)
def test_policy_max_open_positions_by_regime_in_policy_and_note(regime, volatility, expected):
    policy = policy_for(MODERATE, regime=regime, volatility=volatility)
    assert policy.max_open_positions == expected
    assert (
        f"max {expected} open positions (" in policy.note and f"of 8: {regime}, {volatility} volatility" in policy.note
    )
    assert policy.max_correlated_positions == 3  # only the number of open positions follows the regime


def test_policy_regime_limit_alone_never_closes_the_gate():
    # Seed 002's scenario 2: 4 of SAFE's 5 open in HIGH volatility keeps trading; the regime's 3 binds new entries
    # in the risk controller, not the gate.
    policy = policy_for(
        SAFE, regime=Regime.SIDEWAYS, volatility=VolatilityLevel.HIGH, risk_state=RiskState(open_positions=4)
    )
    assert policy.allow_new_trades is True and policy.max_open_positions == 3


def test_policy_normal_conditions_note_names_conditions():
    assert policy_for(SAFE).note == "Normal conditions (TRENDING_UP, NORMAL volatility); max 5 open positions"


# --- fallback ---------------------------------------------------------------------------------


def test_fallback_policy_matches_table_row():
    policy = fallback_policy(DEFAULT_PROFILES[SAFE], "ZeroDivisionError in regime")
    assert policy.allow_new_trades is True
    assert policy.min_confidence == 0.65
    assert policy.max_risk_pct == 0.01
    assert policy.allowed_symbols == () and policy.disallowed_symbols == ()
    assert policy.exit_mode is ExitMode.DEFENSIVE_TRAIL
    assert policy.risk_profile == "FALLBACK"
    assert "ZeroDivisionError in regime" in policy.note
    assert policy.max_open_positions == 5


# --- desired gate -----------------------------------------------------------------------------


def gate_for(name: RiskProfileName, **fields):
    inputs = PolicyInputs(**({"regime": Regime.SIDEWAYS, "volatility": VolatilityLevel.NORMAL} | fields))
    return desired_gate(inputs, DEFAULT_PROFILES[name])


def test_desired_gate_calm_conditions_open():
    assert gate_for(SAFE) == (GateTarget.OPEN, "Conditions clear")


def test_desired_gate_drawdown_locks():
    target, reason = gate_for(SAFE, risk_state=RiskState(daily_drawdown_pct=-0.026))
    assert target is GateTarget.LOCKED
    assert reason == "Daily DD limit hit (-2.60%)"


@pytest.mark.parametrize(
    "fields",
    [
        {"volatility": VolatilityLevel.EXTREME},
        {"risk_state": RiskState(open_positions=5)},
        {"risk_state": RiskState(total_exposure_pct=0.12)},
    ],
)
def test_desired_gate_clearing_conditions_pause(fields):
    target, reason = gate_for(SAFE, **fields)
    assert target is GateTarget.PAUSED
    assert reason


def test_desired_gate_drawdown_with_extreme_volatility_locks_with_both_reasons():
    target, reason = gate_for(SAFE, volatility=VolatilityLevel.EXTREME, risk_state=RiskState(daily_drawdown_pct=-0.03))
    assert target is GateTarget.LOCKED
    assert "Daily DD limit hit (-3.00%)" in reason and "EXTREME volatility" in reason


def test_desired_gate_exchange_refusing_requests_pauses_with_its_reason():
    why = "IP banned by the exchange (HTTP 418): nothing is sent until 12:00:00 UTC"
    target, reason = gate_for(SAFE, risk_state=RiskState(exchange_blocked=why))
    assert (target, reason) == (GateTarget.PAUSED, f"Exchange refuses requests: {why}")


def test_desired_gate_values_match_gate_machine_states():
    assert {target.value for target in GateTarget} == {"open", "paused", "locked", "halted"}
