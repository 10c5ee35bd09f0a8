"""The gate rules, directly: which trigger brings the gate where the policy wants it, from each state."""

from __future__ import annotations

import pytest

from actors.clock import DAY_MS
from actors.orchestrator.gate_rules import GateAction, gate_action
from actors.orchestrator.policy import GateTarget
from state_machines import GateState

NOW = 20_000 * DAY_MS + 3_600_000  # 01:00 UTC on some day
MIDNIGHT = 20_001 * DAY_MS  # the next UTC midnight after NOW
TARGETS = [None, GateTarget.OPEN, GateTarget.PAUSED, GateTarget.LOCKED]


def act(
    state: GateState,
    target: GateTarget | None,
    *,
    reason: str = "",
    why: str = "EXTREME volatility",
    locked_until: int | None = None,
    now: int = NOW,
) -> GateAction | None:
    return gate_action(state, reason, locked_until, target, why, now)


# --- halted: only an operator reopens it ----------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_gate_action_halted_any_target_none(target: GateTarget | None):
    assert act(GateState.HALTED, target, reason="operator halt") is None


def test_gate_action_halted_past_a_lock_time_none():
    assert act(GateState.HALTED, GateTarget.OPEN, locked_until=NOW - 1) is None


# --- locked: holds until its time, whatever the policy says ---------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_gate_action_locked_before_its_time_none(target: GateTarget | None):
    assert act(GateState.LOCKED, target, reason="Daily DD limit hit", locked_until=NOW + 1) is None


@pytest.mark.parametrize("target", TARGETS)
def test_gate_action_locked_at_its_time_unlocks_for_a_new_day(target: GateTarget | None):
    action = act(GateState.LOCKED, target, reason="Daily DD limit hit", locked_until=NOW)
    assert action == GateAction("unlock", "new UTC trading day")


def test_gate_action_locked_past_its_time_unlocks_without_a_lock_time():
    action = act(GateState.LOCKED, GateTarget.LOCKED, locked_until=NOW - 60_000)
    assert action == GateAction("unlock", "new UTC trading day") and action.locked_until is None


def test_gate_action_locked_without_a_lock_time_none():
    assert act(GateState.LOCKED, GateTarget.OPEN, locked_until=None) is None


# --- the policy wants it open (or does not drive it) ----------------------------------------------------------------


@pytest.mark.parametrize("target", [None, GateTarget.OPEN])
def test_gate_action_paused_target_open_or_none_clears_with_why(target: GateTarget | None):
    action = act(GateState.PAUSED, target, reason="EXTREME volatility", why="NORMAL volatility")
    assert action == GateAction("clear", "conditions cleared: NORMAL volatility")


@pytest.mark.parametrize("target", [None, GateTarget.OPEN])
def test_gate_action_open_target_open_or_none_none(target: GateTarget | None):
    assert act(GateState.OPEN, target) is None


def test_gate_action_target_none_never_pauses_or_locks_an_open_gate():
    # Flag off: the policy's target does not reach the gate, only a due unlock would.
    assert act(GateState.OPEN, None, why="Daily DD limit hit (-4.12%)") is None


# --- the policy wants it locked -------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [GateState.OPEN, GateState.PAUSED])
def test_gate_action_target_locked_locks_until_next_utc_midnight(state: GateState):
    action = act(state, GateTarget.LOCKED, reason="EXTREME volatility", why="Daily DD limit hit (-4.12%)")
    assert action == GateAction("lock", "Daily DD limit hit (-4.12%)", locked_until=MIDNIGHT)


def test_gate_action_target_locked_exactly_at_midnight_locks_until_the_next_one():
    action = act(GateState.OPEN, GateTarget.LOCKED, now=MIDNIGHT)
    assert action is not None and action.locked_until == MIDNIGHT + DAY_MS


# --- the policy wants it paused -------------------------------------------------------------------------------------


def test_gate_action_open_target_paused_pauses_with_why():
    assert act(GateState.OPEN, GateTarget.PAUSED, why="EXTREME volatility") == GateAction("pause", "EXTREME volatility")


def test_gate_action_paused_same_reason_none():
    assert act(GateState.PAUSED, GateTarget.PAUSED, reason="EXTREME volatility", why="EXTREME volatility") is None


def test_gate_action_paused_new_reason_pauses_again_with_it():
    action = act(GateState.PAUSED, GateTarget.PAUSED, reason="EXTREME volatility", why="max open positions reached")
    assert action == GateAction("pause", "max open positions reached") and action.locked_until is None
