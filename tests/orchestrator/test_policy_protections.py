"""The policy's "drawdown beyond the day" row, directly: max drawdown from the equity peak, the equity floor, the
cool-downs; and the screen that holds a cooling symbol back."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.messages import DecisionReason, Regime, Side, Signal, VolatilityLevel
from actors.orchestrator.gate_rules import GateAction, gate_action
from actors.orchestrator.policy import GateTarget, PolicyInputs, RiskState, compute_policy, desired_gate
from actors.orchestrator.screen import screen_signal
from actors.protections import Cooldown, floor_breach
from config import Settings
from config.profiles import DEFAULT_PROFILES, RiskProfileName
from config.sections import RiskSettings
from state_machines import GateState

SAFE, MODERATE, AGGRESSIVE = RiskProfileName.SAFE, RiskProfileName.MODERATE, RiskProfileName.AGGRESSIVE
UNIVERSE = ("BTCUSDT", "ETHUSDT")
NOW = 1_700_000_000_000
COOLDOWN = Cooldown("ETHUSDT", NOW + 3_600_000, 3, 24.0)


def inputs(**fields) -> PolicyInputs:  # type: ignore[no-untyped-def]
    return PolicyInputs(
        **({"regime": Regime.TRENDING_UP, "volatility": VolatilityLevel.NORMAL, "symbols": UNIVERSE} | fields)
    )


def policy_for(name: RiskProfileName, **fields):  # type: ignore[no-untyped-def]
    return compute_policy(inputs(**fields), DEFAULT_PROFILES[name], name, RiskSettings())


# --- max drawdown from the equity peak: the profile's limit halts -----------------------------------------------------


@pytest.mark.parametrize(("name", "limit"), [(SAFE, 0.10), (MODERATE, 0.15), (AGGRESSIVE, 0.20)])
def test_desired_gate_max_drawdown_at_the_profiles_limit_halts(name: RiskProfileName, limit: float):
    target, reason = desired_gate(inputs(risk_state=RiskState(peak_drawdown_pct=-limit)), DEFAULT_PROFILES[name])
    assert target is GateTarget.HALTED
    assert reason.startswith("Max drawdown from the equity peak hit") and f"limit {limit:.0%}" in reason


@pytest.mark.parametrize(("name", "limit"), [(SAFE, 0.10), (MODERATE, 0.15), (AGGRESSIVE, 0.20)])
def test_desired_gate_max_drawdown_just_inside_the_limit_open(name: RiskProfileName, limit: float):
    risk_state = RiskState(peak_drawdown_pct=-limit + 0.0001)
    assert desired_gate(inputs(risk_state=risk_state), DEFAULT_PROFILES[name])[0] is GateTarget.OPEN


def test_desired_gate_max_drawdown_outranks_the_daily_lock_and_a_pause():
    state = RiskState(peak_drawdown_pct=-0.11, daily_drawdown_pct=-0.05, open_positions=5)
    target, reason = desired_gate(inputs(risk_state=state), DEFAULT_PROFILES[SAFE])
    assert target is GateTarget.HALTED
    assert reason.index("Max drawdown") < reason.index("Daily DD limit hit") < reason.index("Max open positions")


def test_policy_max_drawdown_allows_no_new_trades_and_says_why():
    policy = policy_for(SAFE, risk_state=RiskState(peak_drawdown_pct=-0.12))
    assert policy.allow_new_trades is False
    assert policy.risk_profile == "NO_NEW_TRADES"
    assert "Max drawdown from the equity peak hit (-12.00%, limit 10%)" in policy.note


# --- the equity floor: a pause that clears when equity is back ------------------------------------------------------


def test_desired_gate_equity_below_the_floor_pauses_with_the_floor_reason():
    why = floor_breach(Decimal("80"), Decimal("100"))
    target, reason = desired_gate(inputs(risk_state=RiskState(equity_floor_breach=why)), DEFAULT_PROFILES[SAFE])
    assert (target, reason) == (GateTarget.PAUSED, why)
    assert policy_for(SAFE, risk_state=RiskState(equity_floor_breach=why)).allow_new_trades is False


# --- cool-downs: named in the policy, the symbol held back by the gate screen ---------------------------------------


def test_policy_cooldowns_are_listed_and_noted_but_trading_goes_on():
    policy = policy_for(SAFE, cooldowns=(COOLDOWN,))
    assert policy.allow_new_trades is True
    assert policy.cooling_down == (("ETHUSDT", COOLDOWN.describe()),)
    assert COOLDOWN.describe() in policy.note
    assert policy.allowed_symbols == UNIVERSE  # cooling is the gate's, not the symbol filter's


def screen(symbol: str, **flags: object) -> tuple[DecisionReason, str] | None:
    settings = Settings(symbols=UNIVERSE, orchestrator={"flags": flags})
    signal = Signal(id="s1", at=NOW, symbol=symbol, side=Side.LONG, confidence=0.9)
    policy = policy_for(SAFE, cooldowns=(COOLDOWN,))
    return screen_signal(signal, policy, settings.orchestrator.flags, GateState.OPEN, "", settings)


def test_screen_cooling_symbol_blocked_by_gate_with_the_cooldown():
    assert screen("ETHUSDT") == (DecisionReason.BLOCKED_BY_GATE, COOLDOWN.describe())


def test_screen_other_symbol_passes_while_one_cools_down():
    assert screen("BTCUSDT") is None


def test_screen_cooling_symbol_passes_with_the_gate_flag_off():
    assert screen("ETHUSDT", use_for_trading_gate=False) is None


# --- the gate rules: a halt wanted is a halt, from any state but halted ---------------------------------------------


@pytest.mark.parametrize("state", [GateState.OPEN, GateState.PAUSED, GateState.LOCKED])
def test_gate_action_target_halted_halts_with_why(state: GateState):
    action = gate_action(state, "EXTREME volatility", NOW + 1, GateTarget.HALTED, "Max drawdown hit", NOW)
    assert action == GateAction("halt", "Max drawdown hit")


def test_gate_action_halted_target_halted_none():
    assert gate_action(GateState.HALTED, "operator: x", None, GateTarget.HALTED, "Max drawdown hit", NOW) is None
