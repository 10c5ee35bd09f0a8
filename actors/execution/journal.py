"""What the execution engine writes: transitions with their rows, and the writes that wait for the next commit.

A write that does not need a transaction of its own (an order's status, a fill of an
entry already open, an equity snapshot) is deferred: it goes out with the next
transition, or at the end of the step, so a step waits for as few commits as it can.
An order's row is always committed before the order is sent (write ahead).
Every commit also carries the paper account's save when it changed since the last one (`checkpoint.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection

from actors.clock import Clock
from actors.execution.book import LivePosition
from actors.execution.checkpoint import ExchangeCheckpoint
from exchange.port import OrderRejected, OrderRequest, OrderState
from persistence import records
from persistence.store import Store
from state_machines import PositionModel, PositionState, StateMachine

log = logging.getLogger("quantum_trader.execution")

Write = Callable[[Connection], None]


class Journal:
    """The engine's one path to the database: owns the position machine, the store, the deferred writes and when
    the paper account is saved."""

    def __init__(self, store: Store, machine: StateMachine, clock: Clock, checkpoint: ExchangeCheckpoint) -> None:
        self.store, self.machine, self.clock, self.checkpoint = store, machine, clock, checkpoint
        self._deferred: list[Write] = []

    def defer(self, *writes: Write) -> None:
        self._deferred.extend(writes)

    def flush(self, *, at_stop: bool = False) -> None:
        """Commit the deferred writes, and the account when it changed, in one transaction of their own. `at_stop`:
        the account is saved if it changed, also where it is not saved with every commit (a replay)."""
        save = self.checkpoint.due(at_stop=at_stop)
        if not self._deferred and save is None:
            return
        pending, self._deferred = self._deferred, []
        self.store.write(in_order(*pending, *_writes(save)))
        self._committed(save)

    def create(
        self, values: Mapping[str, Any], *, reason: str, payload: Mapping[str, Any], also: Write | None = None
    ) -> PositionModel:
        save = self.checkpoint.due()
        model = self.store.create_position(
            self.machine,
            values,
            at=self.clock.now_ms(),
            reason=reason,
            payload=payload,
            also=in_order(*([also] if also else []), *_writes(save)),
        )
        self._committed(save)
        return model

    def fire(
        self,
        position: LivePosition,
        trigger: str,
        *,
        reason: str,
        changes: dict[str, Any] | None = None,
        also: Write | None = None,
        **payload: Any,
    ) -> None:
        """Move the position's machine and commit its row and transition with every deferred write."""
        pending, self._deferred = self._deferred, []
        save = self.checkpoint.due()
        try:
            self.store.fire(
                self.machine,
                position.model,
                trigger,
                reason=reason,
                at=self.clock.now_ms(),
                changes=changes,
                also=in_order(*pending, *([also] if also else []), *_writes(save)),
                **payload,
            )
        except BaseException:
            self._deferred = pending + self._deferred
            raise
        self._committed(save)
        log.info(
            "%s %s %s: %s (%s)%s",
            position.id,
            position.symbol,
            position.side,
            position.state,
            reason,
            _result(position),
        )

    def _committed(self, save: tuple[Write, int] | None) -> None:
        if save is not None:
            self.checkpoint.committed(save[1])

    def forget(self, position: LivePosition) -> None:
        """A position in a final state leaves the machine."""
        self.machine.remove(position.model)

    def attach(self, position: LivePosition) -> None:
        """A position in a final state that an exchange event brings back (a late fill of a cancelled entry)."""
        self.machine.add([position.model], position.state)

    # --- rows of orders and positions, as writes -------------------------------------------------

    def order_row(self, position_id: str, purpose: str, request: OrderRequest) -> Write:
        now = self.clock.now_ms()
        return lambda c: records.insert_order(
            c,
            position_id=position_id,
            client_order_id=request.client_order_id,
            purpose=purpose,
            side=str(request.side),
            type=str(request.type),
            quantity=request.quantity,
            trigger_price=request.trigger_price,
            reduce_only=request.reduce_only,
            status="PENDING",
            created_at=now,
            updated_at=now,
        )

    def not_sent(self, client_id: str, why: str) -> Write:
        at = self.clock.now_ms()
        return lambda c: records.update_order(c, client_id, status="NOT_SENT", reject_message=why, updated_at=at)

    def refused(self, client_id: str, error: OrderRejected) -> Write:
        at = self.clock.now_ms()
        return lambda c: records.update_order(
            c, client_id, status="REJECTED", reject_code=error.code, reject_message=error.message, updated_at=at
        )


def sent(state: OrderState) -> Write:
    """The exchange accepted the order."""
    return lambda c: records.update_order(
        c,
        state.client_order_id,
        status=str(state.status),
        exchange_order_id=str(state.exchange_order_id),
        updated_at=state.updated_at,
    )


def order_state_row(state: OrderState) -> Write:
    """The exchange's word on one of our orders, for its row."""
    return lambda c: records.update_order(
        c,
        state.client_order_id,
        status=str(state.status),
        filled_quantity=state.filled_qty,
        average_price=state.avg_price,
        exchange_order_id=str(state.exchange_order_id),
        updated_at=state.updated_at,
    )


def position_numbers(position: LivePosition) -> Write:
    """The position's figures as they are now (taken now, written later)."""
    filled, pnl, fees, stop, details = (
        position.filled,
        position.realized_pnl,
        position.fees,
        position.stop_price,
        position.details(),
    )
    return lambda c: records.update_position_numbers(
        c, position.id, filled_quantity=filled, realized_pnl=pnl, fees=fees, stop_price=stop, details=details
    )


def _writes(save: tuple[Write, int] | None) -> tuple[Write, ...]:
    return () if save is None else (save[0],)


def in_order(*writes: Write) -> Write:
    """One write doing `writes` in order, in the caller's transaction."""

    def all_of(connection: Connection) -> None:
        for write in writes:
            write(connection)

    return all_of


def fill_row(fill: Mapping[str, Any]) -> Write:
    return lambda c: records.insert_fill(c, **fill)


def _result(position: LivePosition) -> str:
    """What a closed position made, for its log line: the average exit and the PnL after fees."""
    if position.state != PositionState.CLOSED or position.exit_price is None:
        return ""
    net = position.realized_pnl - position.fees
    return f": exit {position.exit_price:.8g}, PnL {net:.2f} after {position.fees:.2f} fees"
