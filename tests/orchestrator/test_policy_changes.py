"""The policy change as the operator's log line says it, directly."""

from __future__ import annotations

from dataclasses import replace

from actors.messages import TradingPolicy
from actors.orchestrator.policy_changes import decides_alike, describe_policy_change
from config.profiles import ExitMode

POLICY = TradingPolicy(
    allow_new_trades=True,
    min_confidence=0.45,
    max_risk_pct=0.01,
    exit_mode=ExitMode.TREND_FOLLOW,
    risk_profile="SAFE",
    max_open_positions=5,
    max_correlated_positions=2,
    max_symbol_exposure_pct=0.05,
    max_total_exposure_pct=0.10,
    allowed_symbols=("BTCUSDT", "ETHUSDT"),
    note="Normal conditions",
)


def test_describe_policy_change_first_policy_names_every_field_but_the_note():
    text = describe_policy_change(None, POLICY)
    assert text.startswith("allow_new_trades True, min_confidence 0.45, max_risk_pct 1.00%, exit_mode TREND_FOLLOW")
    assert "allowed_symbols [BTCUSDT, ETHUSDT]" in text and "disallowed_symbols []" in text
    assert "note" not in text and "Normal conditions" not in text


def test_describe_policy_change_names_only_what_changed_old_to_new():
    changed = replace(
        POLICY, allow_new_trades=False, max_risk_pct=0.005, exit_mode=ExitMode.FAST_TP, risk_profile="NO_NEW_TRADES"
    )
    assert describe_policy_change(POLICY, changed) == (
        "allow_new_trades True -> False, max_risk_pct 1.00% -> 0.50%, exit_mode TREND_FOLLOW -> FAST_TP, "
        "risk_profile SAFE -> NO_NEW_TRADES"
    )


def test_describe_policy_change_symbol_lists_say_what_came_in_and_went_out():
    changed = replace(POLICY, allowed_symbols=("BTCUSDT",), disallowed_symbols=("ETHUSDT",))
    assert describe_policy_change(POLICY, changed) == "allowed_symbols -ETHUSDT, disallowed_symbols +ETHUSDT"


def test_describe_policy_change_cooldowns_by_symbol_and_an_extension():
    cooling = replace(POLICY, cooling_down=(("ETHUSDT", "ETHUSDT cooling down until 10:00"),))
    assert describe_policy_change(POLICY, cooling) == "cooling_down +ETHUSDT"
    longer = replace(POLICY, cooling_down=(("ETHUSDT", "ETHUSDT cooling down until 12:00"),))
    assert describe_policy_change(cooling, longer) == "cooling_down changed"
    assert describe_policy_change(longer, POLICY) == "cooling_down -ETHUSDT"


def test_describe_policy_change_only_the_note_differs_no_change():
    assert describe_policy_change(POLICY, replace(POLICY, note="other figures")) == "no change"


def test_decides_alike_whatever_the_note_says():
    assert decides_alike(POLICY, replace(POLICY, note="Daily DD -1.23%"))


def test_decides_alike_not_when_any_other_field_differs():
    changes = {
        "allow_new_trades": False,
        "min_confidence": 0.7,
        "exit_mode": ExitMode.DEFENSIVE_TRAIL,
        "allowed_symbols": ("BTCUSDT",),
        "disallowed_symbols": ("ETHUSDT",),
        "cooling_down": (("ETHUSDT", "ETHUSDT cooling down"),),
    }
    for name, value in changes.items():
        assert not decides_alike(POLICY, replace(POLICY, **{name: value})), name
