"""Which committed changes become notices, and what they say."""

from __future__ import annotations

from typing import Any

from service.notify.notices import Change, notice_for

POSITION: dict[str, Any] = {
    "id": "p-0d0f55034b1d",
    "symbol": "BTCUSDT",
    "side": "LONG",
    "filled_quantity": "0.125",
    "entry_price": "39737.5",
    "exit_price": "39801.18",
    "stop_price": "39680.9",
    "take_profit_price": "39831.8",
    "exit_mode": "FAST_TP",
    "realized_pnl": "7.96",
    "fees": "3.98",
}


def change(machine: str, source: str, dest: str, trigger: str, reason: str) -> Change:
    position = POSITION if machine == "position" else None
    return Change(
        machine=machine, entity_id="x", source=source, dest=dest, trigger=trigger, reason=reason, position=position
    )


def test_notice_position_opened_says_size_entry_stop_and_target() -> None:
    notice = notice_for(change("position", "entry_submitted", "open", "entry_filled", "entry filled"))
    assert notice is not None and notice.title == "opened BTCUSDT LONG"
    assert notice.body == (
        "BTCUSDT LONG 0.125 at 39737.5 (FAST_TP), stop 39680.9, take profit 39831.8; position p-0d0f55034b1d"
    )


def test_notice_position_closed_says_why_and_pnl_after_fees() -> None:
    notice = notice_for(change("position", "partially_closed", "closed", "exit_filled", "take-profit"))
    assert notice is not None and notice.title == "closed BTCUSDT LONG: PnL 3.98"
    assert "closed (take-profit) at 39801.18: PnL 3.98 after 3.98 fees" in notice.body


def test_notice_close_for_want_of_a_stop_is_a_protection_failure() -> None:
    notice = notice_for(change("position", "open", "closing", "close", "no full stop could be placed"))
    assert notice is not None and notice.title == "protection failure: BTCUSDT LONG"


def test_notice_gate_halted_by_recovery_and_by_operator_differ() -> None:
    recovery = notice_for(change("gate", "open", "halted", "halt", "recovery: p-1: state does not match"))
    operator = notice_for(change("gate", "open", "halted", "halt", "operator: maintenance"))
    assert recovery is not None and recovery.title == "recovery halted the gate"
    assert operator is not None and operator.body == "gate open -> halted (halt): operator: maintenance"


def test_notice_none_for_the_gates_creation_an_order_sent_or_an_exit_mode_change() -> None:
    assert notice_for(change("gate", "", "open", "create", "first start")) is None
    assert notice_for(change("position", "pending_entry", "entry_submitted", "submit", "entry order sent")) is None
    assert notice_for(change("position", "open", "open", "change_exit_mode", "FAST_TP -> DEFENSIVE_TRAIL")) is None
