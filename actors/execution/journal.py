"""What the execution engine writes, and when: everything a step learns commits together, before any order leaves.

A transition moves the position's machine at once; its row and transition row wait, with every other write of the
step (fills, order states, positions' figures, equity), for the next commit (group commit). A commit happens:
- before an order is sent (write ahead: its row, and all the step has learned so far, are durable first);
- when the step's entries are created (`create_all`: one transaction with the step's intents, then they are sent);
- at the end of the step, and at stop: the sends' outcomes and the decisions join it.
What nothing reads while the process runs (an order's state, an equity snapshot) is `record`ed: it joins the next
commit too, but in a replay (`durable_steps` off) it makes none of its own at the end of the step, and waits for
the next one (or stop). The others (transitions, decisions, new orders) commit by the end of the step either way:
the signals actor reads positions and decisions at the next step.
An order whose outcome is unknown is looked up by client order id, never sent again. A commit that fails puts
every model it carried back where it was, and raises.
Every commit also carries the paper account's save when it changed since the last one (`checkpoint.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from actors.clock import Clock
from actors.execution.book import LivePosition
from actors.execution.checkpoint import ExchangeCheckpoint
from exchange.port import OrderRejected, OrderRequest, OrderState
from persistence import records
from persistence.store import Move, NewPosition, Store
from state_machines import PositionModel, PositionState, StateMachine

log = logging.getLogger("quantum_trader.execution")

Write = Callable[[Connection], None]
Creation = tuple[NewPosition, Write | None]  # a new position, and the writes that go with it (its entry's row)


class Journal:
    """The engine's one path to the database: owns the position machine, the store, what waits for the next commit
    and when the paper account is saved."""

    def __init__(
        self, store: Store, machine: StateMachine, clock: Clock, checkpoint: ExchangeCheckpoint, *, durable_steps: bool
    ) -> None:
        """`durable_steps`: every step's records durable at its end (the service); off, a replay's `record`s wait."""
        self.store, self.machine, self.clock, self.checkpoint = store, machine, clock, checkpoint
        self.durable_steps = durable_steps
        self._deferred: list[Write] = []
        self._moves: list[Move] = []  # transitions made since the last commit, undone if it fails
        self._said: list[tuple[Any, ...]] = []  # their log lines, said once they are durable
        self._due = False  # something waiting must be committed by the end of the step, in a replay too
        self._order_rows: dict[str, int] = {}  # client id -> where its order's last state waits in `_deferred`

    def defer(self, *writes: Write) -> None:
        """Writes for the next commit, the step's last at the latest."""
        self._deferred.extend(writes)
        self._due = True

    def record(self, *writes: Write) -> None:
        """Rows nothing reads while the process runs, for the next commit; a replay makes none for them alone."""
        self._deferred.extend(writes)

    def record_sent(self, state: OrderState) -> None:
        """The exchange accepted the order: its row says so with the next commit (`record`)."""
        self._order_rows[state.client_order_id] = len(self._deferred)
        self._deferred.append(sent(state))

    def record_order_state(self, state: OrderState) -> None:
        """The exchange's word on one of our orders, for its row (`record`). It sets every column its send, or an
        earlier state of it, waiting for the same commit sets: that one is not written (a replay's sends mostly
        wait for the commit that carries the order's end)."""
        earlier = self._order_rows.get(state.client_order_id)
        if earlier is not None:
            self._deferred[earlier] = _nothing
        self._order_rows[state.client_order_id] = len(self._deferred)
        self._deferred.append(order_state_row(state))

    def flush(self, *, at_stop: bool = False) -> None:
        """Commit what waits, and the account when it changed, in one transaction. `at_stop`: the account is saved
        if it changed, also where it is not saved with every commit (a replay)."""
        save = self.checkpoint.due(at_stop=at_stop)
        now = self._due or (bool(self._deferred) and (self.durable_steps or at_stop))
        if not now and save is None:
            return
        self._commit(lambda c: None, save)

    def create_all(self, creations: Sequence[Creation]) -> list[PositionModel | None]:
        """Commit what waits with the new positions, in one transaction; each one's model (attached to the
        machine), or None for a position that exists already (its signal was acted on before)."""
        created: list[NewPosition] = []

        def write(connection: Connection) -> None:
            taken = records.position_states_of(connection, [new.model.entity_id for new, _ in creations])
            for new, also in creations:
                if new.model.entity_id not in taken:
                    new.write(connection)
                    if also is not None:
                        also(connection)
                    created.append(new)

        self._commit(write, self.checkpoint.due())
        for new in created:
            self.machine.add([new.model], PositionState.PENDING_ENTRY)
        made = {new.model.entity_id for new in created}
        return [new.model if new.model.entity_id in made else None for new, _ in creations]

    def create(
        self, values: Mapping[str, Any], *, reason: str, payload: Mapping[str, Any], also: Write | None = None
    ) -> PositionModel:
        """One new position, committed at once with what waits."""
        new = self.new_position(values, reason=reason, payload=payload)
        (model,) = self.create_all([(new, also)])
        if model is None:
            raise ValueError(f"position {new.model.entity_id} exists already")
        return model

    def new_position(self, values: Mapping[str, Any], *, reason: str, payload: Mapping[str, Any]) -> NewPosition:
        return self.store.new_position(values, at=self.clock.now_ms(), reason=reason, payload=payload)

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
        """Move the position's machine now; its row and transition are written with the next commit."""
        move = self.store.move(
            self.machine, position.model, trigger, reason=reason, at=self.clock.now_ms(), changes=changes, **payload
        )
        self._moves.append(move)
        self._due = True
        self._deferred.append(move.write)
        if also is not None:
            self._deferred.append(also)
        self._said.append((position.id, position.symbol, position.side, position.state, reason, _result(position)))

    def _commit(self, last: Write, save: tuple[Write, int] | None) -> None:
        pending, moves, said = self._deferred, self._moves, self._said
        self._deferred, self._moves, self._said = [], [], []
        self._due, self._order_rows = False, {}
        try:
            self.store.write(in_order(*pending, last, *_writes(save)))
        except BaseException:
            for move in reversed(moves):
                move.undo()
            raise
        if save is not None:
            self.checkpoint.committed(save[1])
        for line in said:
            log.info("%s %s %s: %s (%s)%s", *line)

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


def _nothing(connection: Connection) -> None:
    """A write whose row a later one in the same transaction writes whole."""


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
