"""The execution actor: owns the position machines and the exchange port.

Write ahead: an intent and its deterministic client order id are committed
(`pending_entry`) before the order leaves; an order whose outcome is unknown is
looked up by client order id at the next step, never sent again.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from actors.base import SupervisedActor
from actors.clock import utc_day
from actors.execution import orders, reconcile
from actors.execution.book import ZERO, LivePosition, Purpose, TradeRecords, parse_client_order_id
from actors.execution.loading import latest_day_start, load_live_positions, load_trade_records
from exchange.port import Balance, Fill, OrderState, OrderStatus, OutcomeUnknown, RateLimited
from actors.messages import (
    ClosePosition, DecisionReason, HaltGate, MoveStop, OrderIntent, Portfolio, PositionClosed, PositionEvent, Shutdown, Step,
)
from persistence import records
from persistence.store import Store
from state_machines import PositionState, gate_machine, position_machine

log = logging.getLogger("quantum_trader.execution")
HOUR_MS = 3_600_000


class ExecutionActor(SupervisedActor):
    name = "execution"

    def start_up(self) -> None:
        self.prefix = self.ctx.settings.exchange.client_id_prefix
        self.store = Store(self.ctx.engine)
        self.machine = position_machine()
        loaded = self.store.load(self.machine, gate_machine())
        self.live: dict[str, LivePosition] = load_live_positions(self.store.connection, loaded.positions)
        self.by_client_id: dict[str, tuple[LivePosition, str]] = {}
        for position in self.live.values():
            self._index(position)
        self.records: TradeRecords = load_trade_records(self.store.connection)
        self.exchange = self.ctx.exchange
        self.writes: list[Any] = []
        self.accepting = True
        self.last_balance = self.exchange.balance()
        equity = self.last_balance.equity
        self.day = utc_day(self.ctx.clock.now_ms())
        self.day_start_equity = latest_day_start(self.store.connection, self.day) or equity
        self.last_snapshot_hour = -1
        self.filters = dict(orders.known_filters(self))
        self.filters_view = tuple(sorted(self.filters.items()))
        if loaded.mismatches:
            detail = "; ".join(m.describe() for m in loaded.mismatches)
            self.tell("orchestrator", HaltGate(reason=f"state does not match the audit trail: {detail}"))
        self.ctx.extras["recovery"] = reconcile.reconcile(self)

    def shut_down(self) -> None:
        if hasattr(self, "store"):
            self._flush()
            self.store.close()

    def handle(self, message: Any) -> Any:
        match message:
            case Step(stage="market"):
                self._on_market(message)
            case Step(stage="intents"):
                self._on_intents(message)
            case MoveStop():
                orders.move_stop(self, message)
            case ClosePosition():
                orders.close_position(self, message)
            case Shutdown():
                self.accepting = False
        return None

    # --- the market stage: fills, transitions, the account ---------------------------

    def _on_market(self, step: Step) -> None:
        on_candle = getattr(self.exchange, "on_candle", None)
        if on_candle is not None:
            for candle in step.candles:
                on_candle(candle)
            # Saved with its fills still queued: killed before they are applied, a restart applies them.
            self._save_paper_account(step.at)
            self._flush()
        reconcile.resolve_unknown(self)
        events = self.apply_exchange_events()
        if any(c.symbol not in self.filters for c in step.candles):
            self.filters = dict(orders.known_filters(self, tuple(c.symbol for c in step.candles)))
            self.filters_view = tuple(sorted(self.filters.items()))
        portfolio = self.portfolio(step.at)
        self._snapshot_equity(step.at, portfolio)
        # Order-status updates and equity snapshots wait for the end of the step: nothing depends on
        # them before then (transitions commit on their own), and the step's new orders go out sooner.
        self.tell("exits", replace(step, stage="portfolio", portfolio=portfolio, events=events))

    def apply_exchange_events(self) -> tuple[PositionEvent, ...]:
        produced: list[PositionEvent] = []
        for event in self.exchange.drain_events():
            if isinstance(event, Fill):
                produced.extend(self._on_fill(event))
            else:
                produced.extend(self._on_order_state(event))
        return tuple(produced)

    def apply_fill(self, fill: Fill) -> list[PositionEvent]:
        return self._on_fill(fill)

    def _on_fill(self, fill: Fill) -> list[PositionEvent]:
        trade_id = f"{fill.client_order_id}:{fill.trade_id}"  # our ids are never reused, so this is unique for good
        known = self.by_client_id.get(fill.client_order_id)
        if known is None or trade_id in known[0].trades:
            return []
        position, purpose = known
        if purpose == Purpose.ENTRY and position.filled + fill.quantity > position.quantity:
            # Applied before under another trade id (an older lookup's summary), told again now.
            log.info("%s: entry fill %s beyond the ordered quantity ignored", position.id, trade_id)
            return []
        position.trades.add(trade_id)
        position.applied[fill.client_order_id] = position.applied.get(fill.client_order_id, ZERO) + fill.quantity
        fill_row = dict(client_order_id=fill.client_order_id, trade_id=trade_id, quantity=fill.quantity,
                        price=fill.price, fee=fill.fee, realized_pnl=fill.realized_pnl, at=fill.at)
        if purpose == Purpose.ENTRY:
            position.add_entry_fill(fill.quantity, fill.price, fill.fee)
            return orders.on_entry_fill(self, position, fill_row)
        position.add_exit_fill(fill.quantity, fill.price, fill.fee, fill.realized_pnl)
        return orders.on_exit_fill(self, position, purpose, fill_row)

    def _on_order_state(self, state: OrderState) -> list[PositionEvent]:
        if state.status is OrderStatus.NEW:
            return []  # recorded when the order was sent; the exchange's echo adds nothing
        known = self.by_client_id.get(state.client_order_id)
        if known is None and parse_client_order_id(self.prefix, state.client_order_id) is None:
            return []  # not ours
        # Recorded for a finished position too: its resting orders expire or are cancelled after it closed.
        self.writes.append(orders.order_state_row(state))
        if known is None:
            return []
        position, purpose = known
        if purpose == Purpose.ENTRY and state.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED):
            if position.state in (PositionState.ENTRY_SUBMITTED, PositionState.UNKNOWN) and position.filled == 0:
                trigger = "reject" if state.status is OrderStatus.REJECTED else "cancel"
                self.fire(position, trigger, reason=f"entry order {state.status.lower()} on the exchange")
                return self.finish(position, f"entry {state.status.lower()}")
        return []

    # --- the intents stage: write ahead, then send -------------------------------------

    def _on_intents(self, step: Step) -> None:
        decisions = []
        for intent in step.intents:
            if not self.accepting:
                break
            decisions.append(orders.open_position(self, intent))
        self.writes.append(lambda c, rows=[d for d in decisions if d]: records.insert_decisions(c, rows))
        self._save_paper_account(step.at)  # with the step's orders, in the step's last transaction
        self._flush()
        self.step_finished(step.at)

    # --- shared helpers used by actors/execution/orders.py ------------------------------

    def fire(self, position: LivePosition, trigger: str, *, reason: str, changes: dict[str, Any] | None = None,
             also: Any = None, **payload: Any) -> None:
        pending, self.writes = self.writes, []

        def together(connection: Connection) -> None:
            for write in pending:
                write(connection)
            if also is not None:
                also(connection)

        try:
            self.store.fire(self.machine, position.model, trigger, reason=reason, at=self.ctx.clock.now_ms(),
                            changes=changes, also=together, **payload)
        except BaseException:
            self.writes = pending + self.writes
            raise
        log.info("%s %s %s: %s (%s)", position.id, position.symbol, position.side, position.state, reason)

    def finish(self, position: LivePosition, reason: str) -> list[PositionEvent]:
        """Forget a position that reached a final state."""
        for client_id in [cid for cid, (p, _) in self.by_client_id.items() if p is position]:
            del self.by_client_id[client_id]
        self.live.pop(position.id, None)
        self.machine.remove(position.model)
        if position.state == PositionState.CLOSED:
            return [PositionClosed(position_id=position.id, reason=reason)]
        return []

    def _index(self, position: LivePosition) -> None:
        self.by_client_id[orders.entry_client_id(self, position)] = (position, Purpose.ENTRY)
        for purpose, client_id in position.orders.items():
            self.by_client_id[client_id] = (position, purpose)

    def index(self, position: LivePosition, purpose: str, client_id: str) -> None:
        if purpose != Purpose.ENTRY:  # the entry's id is derived from the position id, not kept among resting orders
            position.orders[purpose] = client_id
        self.by_client_id[client_id] = (position, purpose)

    def balance(self) -> Balance:
        """The account's balance, or the last one read while the exchange refuses requests (the portfolio says so)."""
        if not self.exchange.blocked():
            try:
                self.last_balance = self.exchange.balance()
            except (RateLimited, OutcomeUnknown) as error:
                log.warning("balance not read (%s); the last one stands", error)
        return self.last_balance

    def portfolio(self, at: int) -> Portfolio:
        equity = self.balance().equity
        if utc_day(at) != self.day:
            self.day, self.day_start_equity = utc_day(at), equity
        filters = self.filters_view
        return Portfolio(
            equity=equity, day_start_equity=self.day_start_equity,
            positions=tuple(p.view() for p in self.live.values()),
            losing_streak=self.records.losing_streak, records=self.records.records(at), filters=filters,
            exchange_blocked=self.exchange.blocked(),
        )

    def _snapshot_equity(self, at: int, portfolio: Portfolio) -> None:
        hour = at // HOUR_MS
        if hour == self.last_snapshot_hour:
            return
        self.last_snapshot_hour = hour
        balance = self.balance()
        self.writes.append(lambda c: records.insert_equity_snapshot(
            c, at=at, equity=balance.equity, wallet=balance.wallet_balance, unrealized_pnl=balance.unrealized_pnl,
            day_start_equity=portfolio.day_start_equity, daily_drawdown_pct=portfolio.daily_drawdown_pct))

    def snapshot_equity_now(self, at: int) -> None:
        self.last_snapshot_hour = -1
        self._snapshot_equity(at, self.portfolio(at))

    def _save_paper_account(self, at: int) -> None:
        """Queue the paper account's save (the service's `checkpoint_steps`, twice a step): after a kill it is
        never behind the database. A replay does without."""
        if not self.ctx.extras.get("checkpoint_steps") or getattr(self.exchange, "to_state", None) is None:
            return
        state = self.exchange.to_state()
        self.writes.append(lambda c: records.save_exchange_state(c, records.PAPER_EXCHANGE_STATE, state, at))

    def _flush(self) -> None:
        if not self.writes:
            return
        pending, self.writes = self.writes, []
        self.store.write(lambda c: [write(c) for write in pending])

    def decision(self, intent: OrderIntent, reason: DecisionReason, detail: str) -> dict[str, Any]:
        signal = intent.signal
        return dict(signal_id=signal.id, at=self.ctx.clock.now_ms(), symbol=signal.symbol, side=str(signal.side),
                    confidence=signal.confidence, source=signal.source, reason=str(reason), detail=detail,
                    position_id=intent.position_id)

