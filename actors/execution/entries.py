"""Opening positions: the intent written ahead with its client order id, the entry sent once, and the entry's
fill that places the position's protective orders."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from actors.clock import Clock
from actors.execution.book import Book, LivePosition, entry_side
from actors.execution.closing import LIVE_EXIT_STATES, Closing
from actors.execution.filters import Filters
from actors.execution.ids import Purpose, entry_client_id
from actors.execution.journal import Journal, Write, fill_row, in_order, position_numbers, sent
from actors.execution.protection import Protection
from actors.exits.strategies import plan_exits
from actors.messages import DecisionReason, OrderIntent, PositionEvent, PositionOpened
from actors.rounding import round_down_to_step
from config import Settings
from exchange.market import to_decimal
from exchange.port import ExchangePort, OrderRejected, OrderRequest, OrderType, OutcomeUnknown, RateLimited
from persistence.position_details import PositionDetails
from persistence.store import NewPosition
from state_machines import PositionModel, PositionState

log = logging.getLogger("quantum_trader.execution")
AWAITING_ENTRY = (PositionState.ENTRY_SUBMITTED, PositionState.UNKNOWN, PositionState.CANCELLED)


class Entries:
    def __init__(
        self,
        book: Book,
        journal: Journal,
        exchange: ExchangePort,
        protection: Protection,
        closing: Closing,
        filters: Filters,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.book, self.journal, self.exchange, self.filters = book, journal, exchange, filters
        self.protection, self.closing, self.settings, self.clock = protection, closing, settings, clock

    def open_all(self, intents: Sequence[OrderIntent]) -> list[dict[str, Any]]:
        """Write the step's intents ahead, together with all the step has learned (one commit), then send each entry
        once; each signal's decision row (none for a signal acted on before)."""
        prepared = [self._prepare(intent) for intent in intents]
        models = self.journal.create_all([(new, also) for _, _, new, also in prepared])
        decisions = []
        for (intent, request, _, _), model in zip(prepared, models, strict=True):
            if model is None:
                log.info(
                    "signal %s was already acted on (position %s exists); ignored", intent.signal.id, intent.position_id
                )
                continue
            decisions.append(self._send(intent, request, model))
        return decisions

    def _prepare(self, intent: OrderIntent) -> tuple[OrderIntent, OrderRequest, NewPosition, Write]:
        """The entry's order and the position's first rows, not written yet."""
        signal, pid = intent.signal, intent.position_id
        entry_id = entry_client_id(self.book.prefix, pid)
        request = OrderRequest(
            client_order_id=entry_id,
            symbol=signal.symbol,
            side=entry_side(signal.side),
            type=OrderType.MARKET,
            quantity=intent.quantity,
        )
        values = dict(
            id=pid,
            symbol=signal.symbol,
            side=str(signal.side),
            client_order_id=entry_id,
            quantity=intent.quantity,
            filled_quantity=Decimal(0),
            entry_price=None,
            exit_price=None,
            stop_price=None,
            take_profit_price=None,
            realized_pnl=Decimal(0),
            fees=Decimal(0),
            exit_mode=str(intent.exit_mode),
            signal_id=signal.id,
            close_reason=None,
            opened_at=None,
            closed_at=None,
            details=PositionDetails(
                stop_distance=intent.stop_distance, decision_price=intent.reference_price
            ).to_json(),
        )
        new = self.journal.new_position(
            values,
            reason=f"signal {signal.id} ({signal.source}, confidence {signal.confidence:.2f}): {intent.note}",
            payload={
                "signal_id": signal.id,
                "quantity": str(intent.quantity),
                "risk_pct": intent.risk_pct,
                "exit_mode": str(intent.exit_mode),
                "client_order_id": entry_id,
            },
        )
        return intent, request, new, self.journal.order_row(pid, Purpose.ENTRY, request)

    def _send(self, intent: OrderIntent, request: OrderRequest, model: PositionModel) -> dict[str, Any]:
        """Send a committed intent's entry once; the signal's decision row."""
        signal, entry_id = intent.signal, request.client_order_id
        position = LivePosition(
            model=model,
            symbol=signal.symbol,
            side=signal.side,
            quantity=intent.quantity,
            exit_mode=intent.exit_mode,
            stop_distance=intent.stop_distance,
            decision_price=intent.reference_price,
        )
        self.book.add(position)
        try:
            state = self.exchange.place_order(request)
        except OrderRejected as error:
            self.filters.refused(error)
            self.journal.fire(
                position,
                "reject",
                reason=f"exchange rejected the entry: {error.code} {error.message}",
                also=self.journal.refused(entry_id, error),
                code=error.code,
            )
            self.closing.finish(position, "rejected")
            return self._decision(intent, DecisionReason.REJECTED_BY_EXCHANGE, f"{error.code} {error.message}")
        except RateLimited as error:
            self.journal.fire(
                position, "cancel", reason=f"rate limited before sending; retry after {error.retry_after_s}s"
            )
            self.closing.finish(position, "cancelled")
            return self._decision(intent, DecisionReason.REJECTED_BY_EXCHANGE, f"rate limited ({error.retry_after_s}s)")
        except OutcomeUnknown as error:
            self.journal.fire(
                position, "outcome_unknown", reason=f"entry outcome unknown ({error}); resolving by client order id"
            )
            return self._decision(
                intent, DecisionReason.ACCEPTED, "sent; outcome unknown, resolving by client order id"
            )
        position.submitted_at = self.clock.now_ms()
        self.journal.fire(position, "submit", reason="entry order sent", also=sent(state), client_order_id=entry_id)
        return self._decision(
            intent, DecisionReason.ACCEPTED, f"{intent.quantity} {signal.symbol} {signal.side}; {intent.note}"
        )

    def on_entry_fill(self, position: LivePosition, fill: dict[str, Any]) -> list[PositionEvent]:
        """A fill of the entry, already added to the position's figures: the first one opens it and protects it."""
        if position.state not in AWAITING_ENTRY:  # a further trade of the entry (a market order walks the book)
            self.journal.defer(fill_row(fill), position_numbers(position))
            if position.state in LIVE_EXIT_STATES:
                self._cover_whole(position)
            elif position.state == PositionState.CLOSING:  # its exit at market left with the trades before this
                self.protection.reprotect(position, (Purpose.STOP,))
                self.closing.close_more(position, fill["quantity"])
            return []
        filters = self.exchange.symbol_filters(position.symbol)
        params = self.settings.exit_modes[position.exit_mode]
        assert position.entry_price is not None
        entry = filters.round_price(position.entry_price, up=False)
        plan = plan_exits(params, position.side, entry, position.filled, filters, position.stop_distance or None)
        position.stop_price, position.take_profit_price = plan.stop_price, plan.take_profit_price
        position.partial_price, position.risk_per_unit = plan.partial_price, plan.risk_per_unit
        position.trailing_pct, position.partial_quantity = plan.trailing_pct, plan.partial_quantity
        position.trailing_start = plan.trailing_start
        requests = self.protection.requests(position, plan.partial_quantity)
        writes = [fill_row(fill), *self.protection.register(position, requests)]
        self.journal.fire(
            position,
            "entry_filled",
            reason=f"entry filled: {position.filled} at {position.entry_price}",
            changes=dict(
                entry_price=position.entry_price,
                filled_quantity=position.filled,
                opened_at=fill["at"],
                stop_price=plan.stop_price,
                take_profit_price=plan.take_profit_price,
                fees=position.fees,
                details=position.details(),
            ),
            also=in_order(*writes),
            price=str(fill["price"]),
            quantity=str(fill["quantity"]),
            stop=str(plan.stop_price),
            take_profit=str(plan.take_profit_price),
        )
        opened = PositionOpened(
            position_id=position.id,
            symbol=position.symbol,
            side=position.side,
            entry_price=entry,
            quantity=position.filled,
            stop_price=plan.stop_price,
            take_profit_price=plan.take_profit_price,
            partial_price=plan.partial_price,
            risk_per_unit=plan.risk_per_unit,
            trailing_pct=plan.trailing_pct,
            trailing_start=plan.trailing_start,
            exit_mode=position.exit_mode,
        )
        self.protection.send(position, requests)
        return [opened]

    def _cover_whole(self, position: LivePosition) -> None:
        """The stop and the targets were sized on the trades filled so far: replace them to cover the whole."""
        purposes: tuple[str, ...] = (Purpose.STOP, Purpose.TAKE_PROFIT)
        if position.partial_price is not None and position.partial_due:
            fraction = to_decimal(self.settings.exit_modes[position.exit_mode].partial_tp_fraction)
            step = self.exchange.symbol_filters(position.symbol).step_size
            position.partial_quantity = round_down_to_step(position.filled * fraction, step)
            purposes = (*purposes, Purpose.PARTIAL)
        log.info("%s entry now %s filled: protective orders resized", position.id, position.filled)
        self.protection.reprotect(position, purposes)

    def _decision(self, intent: OrderIntent, reason: DecisionReason, detail: str) -> dict[str, Any]:
        signal = intent.signal
        return dict(
            signal_id=signal.id,
            at=self.clock.now_ms(),
            symbol=signal.symbol,
            side=str(signal.side),
            confidence=signal.confidence,
            source=signal.source,
            reason=str(reason),
            detail=detail,
            position_id=intent.position_id,
        )
