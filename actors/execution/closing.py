"""Closing positions: our own market exits, and every fill that closes or shrinks a position (stop-loss,
take-profit, partial take-profit, exit)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from actors.clock import Clock
from actors.execution.account import Account
from actors.execution.book import Book, LivePosition
from actors.execution.ids import Purpose
from actors.execution.journal import Journal, fill_row, position_numbers
from actors.messages import PartialTakeProfitFilled, PositionClosed, PositionEvent
from exchange.port import ExchangePort, OrderRejected, OrderRequest, OrderType, OutcomeUnknown, RateLimited
from state_machines import PositionState

log = logging.getLogger("quantum_trader.execution")
LIVE_EXIT_STATES = (PositionState.OPEN, PositionState.PARTIALLY_CLOSED)
LATE_FILL_WINDOW_MS = 3_600_000  # how long a cancelled entry's late fill still reopens it
CLOSE_REASONS = {Purpose.TAKE_PROFIT: "take-profit", Purpose.PARTIAL: "take-profit"}


class Closing:
    def __init__(self, book: Book, journal: Journal, exchange: ExchangePort, account: Account, clock: Clock) -> None:
        self.book, self.journal, self.exchange, self.account, self.clock = book, journal, exchange, account, clock
        self.filters = account.filters

    def finish(self, position: LivePosition, reason: str) -> list[PositionEvent]:
        """Forget a position that reached a final state; a closed one is told to the other actors."""
        self.book.remove(position)
        self.journal.forget(position)
        if position.state == PositionState.CANCELLED:
            self.book.remember_cancelled(position, until=self.clock.now_ms() + LATE_FILL_WINDOW_MS)
        if position.state == PositionState.CLOSED:
            net = position.realized_pnl - position.fees
            return [PositionClosed(position_id=position.id, symbol=position.symbol, reason=reason, net_pnl=net)]
        return []

    def close(self, position_id: str, reason: str) -> None:
        """Close what is open at market (reduce-only); the stop-loss keeps protecting it until the exit fills."""
        position = self.book.get(position_id)
        if position is None or position.state not in LIVE_EXIT_STATES or position.open_quantity <= 0:
            return
        request = position.order_request(self.book.prefix, Purpose.EXIT, OrderType.MARKET, position.open_quantity)
        position.close_reason = reason
        self.book.index(position, Purpose.EXIT, request.client_order_id)
        self.journal.fire(
            position,
            "close",
            reason=reason,
            changes=dict(details=position.details()),
            also=self.journal.order_row(position.id, Purpose.EXIT, request),
        )
        self.journal.flush()  # write ahead: the exit's row, and all the step has learned, before it leaves
        self._send_exit(position, request)

    def close_more(self, position: LivePosition, quantity: Decimal) -> None:
        """A further trade of the entry of a position being closed at market: that part is closed too, by an exit
        of its own (the one on its way was sized before it came)."""
        request = position.order_request(self.book.prefix, Purpose.EXIT, OrderType.MARKET, quantity)
        self.book.index(position, Purpose.EXIT, request.client_order_id)
        self.journal.defer(self.journal.order_row(position.id, Purpose.EXIT, request), position_numbers(position))
        self.journal.flush()  # write ahead
        log.info("%s entry's further %s closed too: exit at market", position.id, quantity)
        self._send_exit(position, request)

    def _send_exit(self, position: LivePosition, request: OrderRequest) -> None:
        """Send a written-ahead exit; one refused or not sent leaves the position open under its stop."""
        try:
            self.journal.record_sent(self.exchange.place_order(request))
        except OrderRejected as error:
            self.filters.refused(error)
            self.journal.fire(
                position,
                "exit_failed",
                reason=f"exit order refused: {error.code} {error.message}",
                also=self.journal.refused(request.client_order_id, error),
            )
        except RateLimited as error:  # nothing was sent: the stop-loss still protects it
            self.journal.fire(
                position,
                "exit_failed",
                reason=f"exit order not sent: {error}",
                also=self.journal.not_sent(request.client_order_id, str(error)),
            )
        except OutcomeUnknown as error:
            # Its fill, if it filled, arrives like any other; if it never arrived, the next start undoes the close.
            log.warning("%s exit order outcome unknown (%s)", position.id, error)

    def on_exit_fill(self, position: LivePosition, purpose: str, fill: dict[str, Any]) -> list[PositionEvent]:
        """A fill of one of the position's exit-side orders, already added to its figures."""
        if position.open_quantity <= 0 and position.state in (*LIVE_EXIT_STATES, PositionState.CLOSING):
            reason = _close_reason(position, purpose)
            self._cancel_resting(position, keep=purpose)
            net = position.realized_pnl - position.fees
            self.journal.fire(
                position,
                "exit_filled",
                reason=reason,
                also=fill_row(fill),
                pnl=str(net),
                changes=dict(
                    exit_price=position.exit_price,
                    realized_pnl=position.realized_pnl,
                    fees=position.fees,
                    closed_at=fill["at"],
                    close_reason=reason,
                    details=position.details(),
                ),
            )
            self.account.trade_closed(position.symbol, net, position.r_multiple(net), fill["at"])
            return self.finish(position, reason)
        if purpose == Purpose.PARTIAL and position.state == PositionState.OPEN:
            self.journal.fire(
                position,
                "partial_take_profit",
                reason=f"partial take-profit filled: {fill['quantity']} at {fill['price']}",
                also=fill_row(fill),
                changes=dict(realized_pnl=position.realized_pnl, fees=position.fees, details=position.details()),
            )
            return [PartialTakeProfitFilled(position_id=position.id)]
        self.journal.defer(fill_row(fill), position_numbers(position))
        return []

    def _cancel_resting(self, position: LivePosition, keep: str) -> None:
        for purpose, client_id in list(position.orders.items()):
            if purpose == keep:
                continue
            try:
                self.exchange.cancel_order(position.symbol, client_id)
            except OrderRejected:
                continue  # already filled, expired or cancelled: nothing rests
            except (OutcomeUnknown, RateLimited) as error:  # reduce-only: with the position gone it can never fill
                log.warning("%s %s not cancelled (%s); a start cancels it as an orphan", position.id, client_id, error)


def _close_reason(position: LivePosition, purpose: str) -> str:
    if purpose == Purpose.STOP:
        return "trailing stop" if position.stop_moves else "stop-loss"
    if purpose == Purpose.EXIT:
        return position.close_reason or "closed by the service"
    return CLOSE_REASONS.get(purpose, purpose)
