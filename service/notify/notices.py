"""Which committed transitions the operator is told of, and in what words.

Every gate and position change is committed with its reason (the `transitions` table); a notice is made from
that row and the position's row, so a notification never says what the database does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from actors.execution.protection import UNPROTECTED_CLOSE
from actors.execution.reconcile import RECOVERY_HALT
from service.activity import Trades, money
from service.notify.sender import Notice
from state_machines import GateState, PositionState


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One row of the transitions table, with the position's row when it is a position's."""

    machine: str
    entity_id: str
    source: str
    dest: str
    trigger: str
    reason: str
    position: dict[str, Any] | None = None


def notice_for(change: Change) -> Notice | None:
    """The notice a committed change deserves; None for the many that need none (orders sent, partial fills...)."""
    if change.machine == "gate":
        return _gate(change)
    if change.position is None:
        return None
    return _position(change, change.position)


def _gate(change: Change) -> Notice | None:
    if not change.source:
        return None  # the gate's creation at the first start: not a change
    if change.dest == GateState.HALTED and change.reason.startswith(RECOVERY_HALT):
        return Notice(title="recovery halted the gate", body=f"{change.reason}; only `gate resume` reopens it")
    return Notice(
        title=f"gate {change.dest}",
        body=f"gate {change.source} -> {change.dest} ({change.trigger}): {change.reason}",
    )


def _position(change: Change, row: dict[str, Any]) -> Notice | None:
    what = f"{row['symbol']} {row['side']}"
    if change.dest == PositionState.OPEN and change.source != PositionState.OPEN:
        return Notice(
            title=f"opened {what}",
            body=f"{what} {row['filled_quantity']} at {row['entry_price']} ({row['exit_mode']}), "
            f"stop {row['stop_price'] or '-'}, take profit {row['take_profit_price'] or '-'}; position {row['id']}",
        )
    if change.dest == PositionState.CLOSED:
        net = Decimal(row["realized_pnl"]) - Decimal(row["fees"])
        return Notice(
            title=f"closed {what}: PnL {money(net)}",
            body=f"{what} closed ({change.reason}) at {row['exit_price'] or '-'}: PnL {money(net)} after "
            f"{money(Decimal(row['fees']))} fees; position {row['id']}",
        )
    if change.trigger == "close" and change.reason == UNPROTECTED_CLOSE:
        return Notice(
            title=f"protection failure: {what}",
            body=f"{what} position {row['id']} was left without a full stop: closed at market; "
            "the gate pauses for a while",
        )
    if change.trigger == "exit_failed":
        return Notice(title=f"exit failed: {what}", body=f"{what} position {row['id']}: {change.reason}")
    return None


def daily_summary(day: str, trades: Trades, equity: Decimal | None, gate: str) -> Notice:
    return Notice(
        title=f"daily summary {day} (UTC)",
        body=f"{trades.closed} trade(s) closed, PnL {money(trades.net_pnl)}; equity {money(equity)}; gate {gate}",
    )


def lease_taken(detail: str) -> Notice:
    return Notice(title="took the lease", body=f"this instance now trades the account: {detail}")


def lease_lost(why: str) -> Notice:
    return Notice(title="lost the lease", body=f"this instance stops trading the account: {why}")
