"""Each integration flag switched off changes exactly its own behaviour; OBSERVE enforces nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.messages import DecisionReason, Side, Signal, TradingPolicy
from actors.orchestrator.screen import STATIC_EXIT_MODE, STATIC_MIN_CONFIDENCE, screen_signal
from actors.risk.limits import PositionLimits
from actors.risk.terms import risk_terms
from config import ExitMode, IntegrationFlags, OrchestratorMode, Settings
from tests.actors.harness import Harness

SETTINGS = Settings(symbols=("BTCUSDT", "ETHUSDT"))
FULL = IntegrationFlags()
SIGNAL = Signal(id="s-1", at=0, symbol="BTCUSDT", side=Side.LONG, confidence=0.55)


def policy(**changes: object) -> TradingPolicy:
    base = dict(
        allow_new_trades=True,
        min_confidence=0.45,
        max_risk_pct=0.005,
        exit_mode=ExitMode.DEFENSIVE_TRAIL,
        risk_profile="REDUCED",
        max_open_positions=2,
        max_correlated_positions=1,
        max_symbol_exposure_pct=0.01,
        max_total_exposure_pct=0.02,
        allowed_symbols=("BTCUSDT", "ETHUSDT"),
        note="test policy",
    )
    return TradingPolicy(**(base | changes))  # type: ignore[arg-type]


# Each rule alone blocks SIGNAL under full flags; switching its flag off lets SIGNAL through.
SCREEN_CASES = [
    ("use_for_trading_gate", policy(allow_new_trades=False), DecisionReason.BLOCKED_BY_GATE),
    ("use_for_signal_filter", policy(disallowed_symbols=("BTCUSDT",)), DecisionReason.BLOCKED_BY_POLICY_FILTER),
    ("use_for_confidence_threshold", policy(min_confidence=0.60), DecisionReason.BLOCKED_BY_CONFIDENCE),
]


@pytest.mark.parametrize(("flag", "hostile", "reason"), SCREEN_CASES)
def test_screen_flag_off_lifts_exactly_its_own_block(flag: str, hostile: TradingPolicy, reason: DecisionReason) -> None:
    verdict = screen_signal(SIGNAL, hostile, FULL, "open", "", SETTINGS)
    assert verdict is not None and verdict[0] is reason
    assert screen_signal(SIGNAL, hostile, FULL.model_copy(update={flag: False}), "open", "", SETTINGS) is None
    for other, other_policy, other_reason in SCREEN_CASES:
        if other == flag:
            continue
        still = screen_signal(SIGNAL, other_policy, FULL.model_copy(update={flag: False}), "open", "", SETTINGS)
        assert still is not None and still[0] is other_reason  # the other rules still hold


def test_screen_gate_flag_off_ignores_a_paused_gate_but_never_a_halt() -> None:
    off = FULL.model_copy(update={"use_for_trading_gate": False})
    assert screen_signal(SIGNAL, policy(), off, "paused", "EXTREME volatility", SETTINGS) is None
    halted = screen_signal(SIGNAL, policy(), off, "halted", "operator: maintenance", SETTINGS)
    assert halted == (DecisionReason.BLOCKED_BY_GATE, "gate halted: operator: maintenance")


def test_screen_confidence_flag_off_falls_back_to_the_static_threshold() -> None:
    off = FULL.model_copy(update={"use_for_confidence_threshold": False})
    weak = Signal(id="s-2", at=0, symbol="BTCUSDT", side=Side.LONG, confidence=STATIC_MIN_CONFIDENCE - 0.01)
    verdict = screen_signal(weak, policy(min_confidence=0.60), off, "open", "", SETTINGS)
    assert verdict is not None and verdict[0] is DecisionReason.BLOCKED_BY_CONFIDENCE and "(static)" not in verdict[1]


RISK_FIELDS = {
    "use_for_risk_sizing": ("max_risk_pct", "risk_profile"),
    "use_for_position_limits": ("limits",),
    "use_for_exit_mode": ("exit_mode",),
}


@pytest.mark.parametrize("flag", list(RISK_FIELDS))
def test_risk_flag_off_changes_only_its_own_terms(flag: str) -> None:
    on = risk_terms(policy(), FULL, SETTINGS)
    off = risk_terms(policy(), FULL.model_copy(update={flag: False}), SETTINGS)
    changed = {
        name
        for name in ("limits", "max_risk_pct", "risk_profile", "exit_mode")
        if getattr(on, name) != getattr(off, name)
    }
    assert changed == set(RISK_FIELDS[flag])


def test_risk_terms_with_flags_off_are_the_profiles_own() -> None:
    off = FULL.model_copy(update=dict.fromkeys(RISK_FIELDS, False))
    terms = risk_terms(policy(), off, SETTINGS)
    assert terms.max_risk_pct == SETTINGS.profile.base_risk_pct and terms.risk_profile == "SAFE"
    assert terms.limits == PositionLimits.from_profile(SETTINGS.profile) and terms.exit_mode is STATIC_EXIT_MODE


def test_observe_mode_terms_ignore_the_policy_whatever_the_flags() -> None:
    observe = FULL.model_copy(update={"mode": OrchestratorMode.OBSERVE})
    assert risk_terms(policy(), observe, SETTINGS) == risk_terms(
        policy(), FULL.model_copy(update=dict.fromkeys(RISK_FIELDS, False)), SETTINGS
    )


def test_observe_mode_records_would_be_decisions_and_enforces_nothing(tmp_path: Path) -> None:
    h = Harness(tmp_path, orchestrator={"preset": "observe"}, risk={"atr_multiplier_sl": 10})
    try:
        h.calm(160)
        h.step(BTCUSDT=-0.06)  # extreme volatility: LIVE would pause the gate
        weak = h.signal("BTCUSDT", "LONG", 0.30)  # LIVE would block it on confidence
        h.until(lambda: bool(h.positions()), limit=3)
        decisions = [d for d in h.decisions() if d[0] == weak]
        assert decisions[0][1] == "OBSERVED" and decisions[0][2].startswith("would be BLOCKED_BY_CONFIDENCE")
        assert decisions[-1][1] == "ACCEPTED"  # and it was traded all the same
        assert h.gate_triggers() == ["create"]  # the gate was never driven
        assert h.rows("SELECT count(*) FROM policy_snapshots WHERE enforced = 0")[0][0] >= 1
    finally:
        h.stop()
