"""Each integration flag switched off changes exactly its own behaviour; OBSERVE enforces nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actors.messages import DecisionReason, Side, Signal, TradingPolicy
from actors.orchestrator.screen import STATIC_EXIT_MODE, STATIC_MIN_CONFIDENCE, observed_block, screen_signal
from actors.risk.limits import PositionLimits
from actors.risk.terms import policy_terms, risk_terms
from config import ExitMode, IntegrationFlags, OrchestratorMode, Settings
from persistence import records
from tests.actors.harness import WIDE_STOPS, Harness

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


def test_policy_terms_are_the_policys_own_whatever_the_flags() -> None:
    all_off = FULL.model_copy(update=dict.fromkeys(RISK_FIELDS, False) | {"mode": OrchestratorMode.OBSERVE})
    terms = policy_terms(policy(), SETTINGS)
    assert terms == risk_terms(policy(), FULL, SETTINGS) != risk_terms(policy(), all_off, SETTINGS)
    assert terms.limits == PositionLimits.from_policy(policy()) and terms.exit_mode is ExitMode.DEFENSIVE_TRAIL


# The seed's procedure "To Switch to OBSERVE Mode": only the mode changes, every other flag stays as it is.
SEED_OBSERVE = FULL.model_copy(update={"mode": OrchestratorMode.OBSERVE})


@pytest.mark.parametrize(
    ("gate", "hostile", "reason"),
    [
        ("paused", policy(), DecisionReason.BLOCKED_BY_GATE),
        ("locked", policy(), DecisionReason.BLOCKED_BY_GATE),
        ("open", policy(allow_new_trades=False), DecisionReason.BLOCKED_BY_GATE),
        ("open", policy(disallowed_symbols=("BTCUSDT",)), DecisionReason.BLOCKED_BY_POLICY_FILTER),
        ("open", policy(min_confidence=0.60), DecisionReason.BLOCKED_BY_CONFIDENCE),
    ],
)
def test_screen_observe_enforces_no_policy_block_and_reports_it(
    gate: str, hostile: TradingPolicy, reason: DecisionReason
) -> None:
    assert screen_signal(SIGNAL, hostile, SEED_OBSERVE, gate, "why", SETTINGS) is None
    would = observed_block(SIGNAL, hostile, gate, "why")
    assert would is not None and would[0] is reason


def test_screen_observe_with_every_flag_off_still_reports_the_whole_policy() -> None:
    observe_preset = IntegrationFlags(mode=OrchestratorMode.OBSERVE).model_copy(
        update=dict.fromkeys(("use_for_trading_gate", "use_for_signal_filter", "use_for_confidence_threshold"), False)
    )
    assert screen_signal(SIGNAL, policy(allow_new_trades=False), observe_preset, "open", "", SETTINGS) is None
    assert observed_block(SIGNAL, policy(allow_new_trades=False), "open", "")[0] is DecisionReason.BLOCKED_BY_GATE  # type: ignore[index]


def test_screen_observe_still_holds_an_operator_halt_and_the_universe() -> None:
    halted = screen_signal(SIGNAL, policy(), SEED_OBSERVE, "halted", "operator: maintenance", SETTINGS)
    assert halted == (DecisionReason.BLOCKED_BY_GATE, "gate halted: operator: maintenance")
    stranger = Signal(id="s-3", at=0, symbol="DOGEUSDT", side=Side.LONG, confidence=0.9)
    verdict = screen_signal(stranger, policy(), SEED_OBSERVE, "open", "", SETTINGS)
    assert verdict is not None and verdict[0] is DecisionReason.BLOCKED_BY_POLICY_FILTER


def test_screen_observe_passing_signal_has_no_screen_block() -> None:
    assert observed_block(SIGNAL, policy(), "open", "") is None


def _by_signal(h: Harness, signal_id: str) -> list[tuple[str, str]]:
    return [(reason, detail) for sid, reason, detail in h.decisions() if sid == signal_id]


def test_observe_mode_records_would_be_decisions_and_enforces_nothing(tmp_path: Path) -> None:
    h = Harness(tmp_path, orchestrator={"preset": "observe"}, exit_modes=WIDE_STOPS)
    try:
        h.calm(160)
        h.step(BTCUSDT=-0.06)  # extreme volatility: LIVE would pause the gate
        weak = h.signal("BTCUSDT", "LONG", 0.30)  # LIVE would block it on the gate, then on confidence
        h.until(lambda: bool(h.positions()), limit=3)
        (observed, would), (enforced, _) = _by_signal(h, weak)
        # The observe preset switches every use_for_* flag off; OBSERVE reports the whole policy all the same.
        assert observed == "OBSERVED" and would.startswith("would be BLOCKED_BY_GATE: policy allows no new trades")
        assert "EXTREME volatility" in would
        assert enforced == "ACCEPTED"  # and it was traded all the same
        assert h.gate_triggers() == ["create"]  # the gate was never driven
        assert h.rows("SELECT count(*) FROM policy_snapshots WHERE enforced = 0")[0][0] >= 1
    finally:
        h.stop()


def test_observe_mode_by_the_seed_procedure_enforces_nothing_but_a_halt(tmp_path: Path) -> None:
    """FULL_LIVE's flags with only the mode changed: every signal is recorded OBSERVED with the policy's verdict,
    then decided on the static settings; an operator's halt still blocks."""
    h = Harness(tmp_path, symbols=("BTCUSDT", "ETHUSDT"), orchestrator={"flags": {"mode": "OBSERVE"}})
    try:
        h.calm(160)
        passing = h.signal("ETHUSDT", "SHORT", 0.80)
        h.until(lambda: bool(h.positions()), limit=3)
        (observed, would), (enforced, _) = _by_signal(h, passing)
        # Past the policy's screen: what the policy's own limits and sizing would have said, exit mode included.
        assert observed == "OBSERVED" and would.startswith("would be ACCEPTED: ") and " exits; risk " in would
        assert enforced == "ACCEPTED"

        h.step(BTCUSDT=-0.06)
        weak = h.signal("BTCUSDT", "LONG", 0.30)
        h.until(lambda: len(h.positions()) == 2, limit=3)
        (observed, would), (enforced, detail) = _by_signal(h, weak)
        assert observed == "OBSERVED" and would.startswith("would be BLOCKED_BY_GATE: policy allows no new trades")
        # Sized on the static settings: the profile's 1% risk x 0.8 for a low confidence, not the policy's floor.
        assert enforced == "ACCEPTED" and "risk 0.800%" in detail, detail
        assert h.gate_triggers() == ["create"]

        with h.engine.begin() as connection:
            records.add_operator_command(connection, command="halt", reason="maintenance", at=h.clock.now_ms())
        h.system.operator_commands()
        halted = h.signal("ETHUSDT", "LONG", 0.9)
        h.step()
        assert _by_signal(h, halted) == [("BLOCKED_BY_GATE", "gate halted: operator: maintenance")]
    finally:
        h.stop()


@pytest.mark.parametrize("regime_limits", [True, False])
def test_position_limits_by_regime_through_the_actors(tmp_path: Path, regime_limits: bool) -> None:
    """SAFE with 2 open positions at most: outside a calm trend the policy allows 1, enforced only under the flag."""
    h = Harness(
        tmp_path,
        symbols=("BTCUSDT", "ETHUSDT"),
        profiles={"SAFE": {"max_open_positions": 2, "max_correlated_positions": 2}},
        exit_modes=WIDE_STOPS,  # a wide stop: calm noise does not close the first position
        orchestrator={"flags": {"use_for_position_limits": regime_limits}},
    )
    try:
        h.calm(160)
        h.signal("BTCUSDT", "LONG", 0.8)
        h.until(lambda: bool(h.positions()), limit=3)
        second = h.signal("ETHUSDT", "SHORT", 0.8)
        h.step()
        (policy_json,) = h.rows("SELECT policy FROM policy_snapshots ORDER BY id DESC LIMIT 1")[0]
        policy = json.loads(policy_json)
        assert policy["max_open_positions"] == 1 and "max 1 open positions (" in policy["note"]
        assert h.gate()[0] == "open"  # 1 of the profile's 2: the gate stays open, the regime's number binds
        if regime_limits:
            assert _by_signal(h, second) == [("BLOCKED_BY_POSITION_LIMIT", "1 open positions, limit 1")]
        else:
            assert [reason for reason, _ in _by_signal(h, second)] == ["ACCEPTED"]
    finally:
        h.stop()
