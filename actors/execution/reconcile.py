"""Applying the recovery plan (actors/execution/recovery.py): at start, and for unknown entries at every step.

Position events of what recovery applies are not published: the other actors rebuild their view from the
database at start, and an entry resolved at a step reaches them through the portfolio."""

from __future__ import annotations

import logging
from decimal import Decimal

from actors.clock import Clock
from actors.execution import recovery
from actors.execution.book import Book, LivePosition
from actors.execution.closing import Closing
from actors.execution.fills import Fills
from actors.execution.ids import entry_client_id
from actors.execution.journal import Journal, in_order, order_state_row
from actors.execution.protection import Protection
from actors.exits.strategies import plan_exits
from actors.messages import STATIC_EXIT_MODE, HaltGate, Side, position_id_for
from config import Settings
from exchange.port import ExchangePort, ExchangePosition, Fill, OrderRejected, OutcomeUnknown, RateLimited
from state_machines import PositionState

log = logging.getLogger("quantum_trader.execution")
WAITING_FOR_LOOKUP = (PositionState.UNKNOWN, PositionState.PENDING_ENTRY)


class Reconciler:
    def __init__(
        self,
        book: Book,
        journal: Journal,
        exchange: ExchangePort,
        fills: Fills,
        protection: Protection,
        closing: Closing,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.book, self.journal, self.exchange, self.fills = book, journal, exchange, fills
        self.protection, self.closing, self.settings, self.clock = protection, closing, settings, clock

    def resolve_unknown(self) -> list[HaltGate]:
        """Look up, by client order id, every entry whose outcome is not known. Never resend."""
        waiting = [p for p in self.book if p.state in WAITING_FOR_LOOKUP]
        if not waiting:
            return []
        try:
            facts, exchange_facts = recovery.gather(waiting, self.exchange, self.book.prefix, positions_only=True)
        except (OutcomeUnknown, RateLimited):
            return []  # still unknown: looked up again at the next step
        halts: list[HaltGate] = []
        for action in recovery.plan(facts, exchange_facts, self.book.prefix, positions_only=True):
            if action.kind != "confirm":
                log.warning("resolved by client order id: %s %s: %s", action.kind, action.target, action.detail)
            try:
                halts.extend(self._apply(action, exchange_facts))
            except (OutcomeUnknown, RateLimited):
                break  # the rest is looked up again at the next step
        return halts

    def reconcile(self) -> tuple[tuple[recovery.Action, ...], list[HaltGate]]:
        """At (re)start: apply what happened while down, then the recovery plan."""
        self.fills.apply_all(self.exchange.drain_events())
        facts, exchange_facts = recovery.gather(self.book, self.exchange, self.book.prefix)
        actions = recovery.plan(facts, exchange_facts, self.book.prefix)
        self._refresh_order_rows(facts)
        halts: list[HaltGate] = []
        for action in actions:
            if action.kind != "confirm":
                log.warning("recovery: %s %s: %s", action.kind, action.target, action.detail)
            halts.extend(self._apply(action, exchange_facts))
        self.journal.flush()
        return actions, halts

    def _refresh_order_rows(self, facts: list[recovery.PositionFacts]) -> None:
        """Order rows as the exchange has them now: a status update deferred to the end of a step is lost with a
        kill."""
        for position in facts:
            for order in (position.entry, *position.orders.values()):
                if order is not None:
                    self.journal.defer(order_state_row(order))

    def _apply(self, action: recovery.Action, facts: recovery.ExchangeFacts) -> list[HaltGate]:
        if action.kind == "adopt":
            self._adopt(facts.held[action.target])
            return []
        if action.kind == "cancel_orphan":
            try:
                self.exchange.cancel_order(action.symbol, action.target)
            except OrderRejected:
                log.info("orphan %s was gone already", action.target)
            return []
        if action.kind == "halt":
            return [HaltGate(reason=f"recovery: {action.target}: {action.detail}")]
        position = self.book.get(action.target)
        if position is None:
            return []  # finished by an earlier action of the plan
        match action.kind:
            case "cancel_entry" | "reject_entry":
                self.journal.fire(
                    position, "cancel" if action.kind == "cancel_entry" else "reject", reason=action.detail
                )
                self.closing.finish(position, "cancelled")
            case "confirm_submitted":
                self.journal.fire(position, "submit", reason=action.detail)
            case "fill_from_lookup":
                self._fill_from_lookup(position)
            case "apply_fills":
                self._apply_fills(position, action.purposes)
            case "exit_failed":
                self.journal.fire(position, "exit_failed", reason=action.detail)
            case "close":
                self.journal.fire(
                    position,
                    "reconcile",
                    reason=action.detail,
                    changes=dict(close_reason="closed on the exchange", closed_at=self.clock.now_ms()),
                )
                self.closing.finish(position, "closed on the exchange")
            case "reprotect":
                self.protection.reprotect(position, action.purposes)
        return []

    def _apply_fills(self, position: LivePosition, purposes: tuple[str, ...]) -> None:
        """The fills of the position's orders that nobody heard of, from the exchange's trades, in the order they
        happened: each closes or shrinks the position for its order's reason, with the exchange's figures."""
        fills = [
            fill
            for purpose in purposes
            if purpose in position.orders
            for fill in self.exchange.order_fills(position.symbol, position.orders[purpose])
        ]
        for fill in sorted(fills, key=lambda f: (f.at, f.trade_id)):
            if self.book.holds(position):
                self.fills.apply(fill)

    def _adopt(self, held: ExchangePosition) -> None:
        """A position on the exchange with no record here: take it on, protected by the static exit mode."""
        side = Side.LONG if held.quantity > 0 else Side.SHORT
        quantity = abs(held.quantity)
        pid = position_id_for(f"adopt-{held.symbol}-{held.entry_price}-{quantity}")
        now = self.clock.now_ms()
        values = dict(
            id=pid,
            symbol=held.symbol,
            side=str(side),
            client_order_id=entry_client_id(self.book.prefix, pid),
            quantity=quantity,
            filled_quantity=quantity,
            entry_price=held.entry_price,
            exit_price=None,
            stop_price=None,
            take_profit_price=None,
            realized_pnl=Decimal(0),
            fees=Decimal(0),
            exit_mode=str(STATIC_EXIT_MODE),
            signal_id=None,
            close_reason=None,
            opened_at=now,
            closed_at=None,
            details="{}",
        )
        model = self.journal.create(
            values,
            reason="found on the exchange with no record here",
            payload={"quantity": str(quantity), "entry_price": str(held.entry_price)},
        )
        position = LivePosition(
            model=model,
            symbol=held.symbol,
            side=side,
            quantity=quantity,
            exit_mode=STATIC_EXIT_MODE,
            stop_distance=Decimal(0),
            filled=quantity,
            entry_price=held.entry_price,
            entry_cost=quantity * held.entry_price,
        )
        self.book.add(position)
        filters = self.exchange.symbol_filters(held.symbol)
        plan = plan_exits(
            self.settings.exit_modes[STATIC_EXIT_MODE],
            side,
            filters.round_price(held.entry_price, up=False),
            quantity,
            filters,
        )
        position.stop_price, position.take_profit_price = plan.stop_price, plan.take_profit_price
        position.risk_per_unit, position.trailing_pct = plan.risk_per_unit, plan.trailing_pct
        requests = self.protection.requests(position, Decimal(0))
        rows = self.protection.register(position, requests)
        self.journal.fire(
            position,
            "adopt",
            reason="position found on the exchange with no record here; adopted and protected",
            changes=dict(
                stop_price=plan.stop_price, take_profit_price=plan.take_profit_price, details=position.details()
            ),
            also=in_order(*rows),
        )
        self.protection.send(position, requests)

    def _fill_from_lookup(self, position: LivePosition) -> None:
        """The entry filled while nobody listened: apply its trades (or, when they cannot be read, the order's own
        figures, with the fee unknown)."""
        entry_id = entry_client_id(self.book.prefix, position.id)
        order = self.exchange.get_order(position.symbol, entry_id)
        if order is None or order.filled_qty <= 0 or order.avg_price is None:
            return
        if position.state == PositionState.PENDING_ENTRY:
            self.journal.fire(position, "submit", reason="entry order found on the exchange after a restart")
        fills = self.exchange.order_fills(position.symbol, entry_id) or (
            Fill(
                client_order_id=entry_id,
                symbol=position.symbol,
                side=order.side,
                quantity=order.filled_qty,
                price=order.avg_price,
                fee=Decimal(0),
                realized_pnl=Decimal(0),
                at=self.clock.now_ms(),
                trade_id=0,
            ),
        )
        for fill in fills:
            self.fills.apply(fill)
