"""Keeping a position protected: its stop-loss, take-profit and partial take-profit resting on the exchange
(reduce-only), placed after the entry fills, placed again when missing, and the stop moved by trailing."""

from __future__ import annotations

import logging
from decimal import Decimal

from actors.clock import Clock
from actors.execution.book import Book, LivePosition
from actors.execution.closing import LIVE_EXIT_STATES, Closing
from actors.execution.filters import Filters
from actors.execution.ids import Purpose
from actors.execution.journal import Journal, Write, position_numbers
from actors.messages import StopMoved
from exchange.port import (
    ExchangeError,
    ExchangePort,
    NotFoundYet,
    OrderRejected,
    OrderRequest,
    OrderType,
    OutcomeUnknown,
    RateLimited,
    RejectCode,
)

log = logging.getLogger("quantum_trader.execution")
PROTECTIVE = (Purpose.STOP, Purpose.TAKE_PROFIT, Purpose.PARTIAL)
UNPROTECTED_CLOSE = "no full stop could be placed"  # the reason of a close at market for want of a stop
NAMES = {Purpose.STOP: "stop-loss", Purpose.TAKE_PROFIT: "take-profit", Purpose.PARTIAL: "partial take-profit"}
Requests = list[tuple[str, OrderRequest]]


class Protection:
    def __init__(
        self,
        book: Book,
        journal: Journal,
        exchange: ExchangePort,
        closing: Closing,
        filters: Filters,
        clock: Clock,
        *,
        protect_within_ms: int,
    ) -> None:
        self.book, self.journal, self.exchange, self.closing, self.clock = book, journal, exchange, closing, clock
        self.filters, self.protect_within_ms = filters, protect_within_ms
        self.unsure: dict[str, int] = {}  # position id -> since when its protection is not known to be whole

    def requests(
        self, position: LivePosition, partial_quantity: Decimal, purposes: tuple[str, ...] = PROTECTIVE
    ) -> Requests:
        """The protective orders for `purposes`, each under its purpose's next number (never a reused id)."""
        self._on_the_tick(position)
        prefix, quantity = self.book.prefix, position.open_quantity
        found = []
        if Purpose.STOP in purposes:
            found.append(
                (
                    Purpose.STOP,
                    position.order_request(prefix, Purpose.STOP, OrderType.STOP_MARKET, quantity, position.stop_price),
                )
            )
        if Purpose.TAKE_PROFIT in purposes and position.take_profit_price is not None:
            found.append(
                (
                    Purpose.TAKE_PROFIT,
                    position.order_request(
                        prefix, Purpose.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET, quantity, position.take_profit_price
                    ),
                )
            )
        if Purpose.PARTIAL in purposes and position.partial_price is not None and partial_quantity > 0:
            found.append(
                (
                    Purpose.PARTIAL,
                    position.order_request(
                        prefix, Purpose.PARTIAL, OrderType.TAKE_PROFIT_MARKET, partial_quantity, position.partial_price
                    ),
                )
            )
        return found

    def _on_the_tick(self, position: LivePosition) -> None:
        """The position's trigger prices on the symbol's tick as execution knows it now: Binance may have changed
        the tick since they were set, and refuses a trigger off it (-4014) until they are. A stop moves the way
        that loses less, a target the way that is reached sooner; what moved is written with the position."""
        filters = self.filters.by_symbol.get(position.symbol)
        if filters is None:
            return
        short = position.side.sign < 0  # a long's stop rounds up and its targets down; a short's the other way
        if position.stop_price is not None:
            position.stop_price = filters.round_price(position.stop_price, up=not short)
        if position.take_profit_price is not None:
            position.take_profit_price = filters.round_price(position.take_profit_price, up=short)
        if position.partial_price is not None:
            position.partial_price = filters.round_price(position.partial_price, up=short)

    def register(self, position: LivePosition, requests: Requests) -> list[Write]:
        """Index the requests as the position's current orders; their rows, to be written before they are sent."""
        rows = []
        for purpose, request in requests:
            self.book.index(position, purpose, request.client_order_id)
            rows.append(self.journal.order_row(position.id, purpose, request))
        return rows

    def send(self, position: LivePosition, requests: Requests) -> list[str]:
        """Commit what waits, the requests' rows with it (write ahead), then send them; the purposes now resting. A
        target the price already passed is taken now; an order that could not be placed leaves the position unsure
        until `ensure` settles it."""
        self.journal.flush()
        placed = []
        for purpose, request in requests:
            try:
                self.journal.record_sent(self.exchange.place_order(request))
                placed.append(purpose)
                log.info(
                    "%s %s %s placed: %s %s at %s",
                    position.id,
                    position.symbol,
                    NAMES.get(purpose, purpose),
                    request.side,
                    request.quantity,
                    request.trigger_price,
                )
            except OrderRejected as error:
                self.journal.defer(self.journal.refused(request.client_order_id, error))
                self.filters.refused(error)
                if error.code != RejectCode.ORDER_WOULD_IMMEDIATELY_TRIGGER:
                    log.warning("%s %s order refused: %s; placed again", position.id, purpose, error)
                    self._unsure(position)
                elif purpose == Purpose.PARTIAL:
                    self._take_partial_now(position, request.quantity)
                else:  # the price is already past the stop or the target (it moved while the order was not resting)
                    reason = "stop-loss already crossed" if purpose == Purpose.STOP else "take-profit already crossed"
                    self.closing.close(position.id, reason)
                    return placed
            except (OutcomeUnknown, RateLimited) as error:
                # Looked up by its client order id before anything is sent again (`ensure`).
                log.warning("%s %s order not confirmed (%s); looked up, then placed again", position.id, purpose, error)
                self._unsure(position)
        return placed

    def reprotect(self, position: LivePosition, purposes: tuple[str, ...]) -> None:
        """Place again the protective orders for `purposes` (missing, or not covering the whole position); the
        ones they replace are cancelled once the new ones rest, so the position is never less protected."""
        old = {purpose: position.orders.pop(purpose) for purpose in purposes if purpose in position.orders}
        partial = position.partial_quantity if position.partial_due else Decimal(0)
        requests = self.requests(position, partial, purposes)
        if not requests:
            return
        self.journal.defer(*self.register(position, requests), position_numbers(position))
        for purpose in self.send(position, requests):
            if purpose in old:
                self._cancel(position, old[purpose])

    def ensure(self, now: int) -> list[str]:
        """Settle every position whose protection is not known to be whole: look its orders up, place again what is
        missing or short; one left without a full stop for longer than allowed is closed at market. What must pause
        the gate is returned, with its reason."""
        holds = []
        for position_id, since in list(self.unsure.items()):
            position = self.book.get(position_id)
            if position is None or position.state not in LIVE_EXIT_STATES or position.open_quantity <= 0:
                del self.unsure[position_id]
                continue
            if not self.exchange.blocked():
                try:
                    needs = self._needs(position)
                except (OutcomeUnknown, RateLimited) as error:
                    log.warning("%s protective orders not looked up (%s)", position.id, error)
                else:
                    if not needs:
                        del self.unsure[position_id]
                        continue
                    del self.unsure[position_id]
                    self.reprotect(position, needs)
                    if position_id not in self.unsure:
                        continue
                    self.unsure[position_id] = since
            if now - since > self.protect_within_ms:
                reason = (
                    f"{position.symbol} position {position.id} was without a full stop for "
                    f"{(now - since) // 1000} s: closed at market"
                )
                log.error("%s", reason)
                del self.unsure[position_id]
                self.closing.close(position.id, UNPROTECTED_CLOSE)
                holds.append(reason)
        return holds

    def _needs(self, position: LivePosition) -> tuple[str, ...]:
        """The protective purposes whose order does not rest covering what it must (looked up on the exchange)."""
        wanted = [Purpose.STOP]
        if position.take_profit_price is not None:
            wanted.append(Purpose.TAKE_PROFIT)
        if Purpose.PARTIAL in position.orders and position.partial_due:
            wanted.append(Purpose.PARTIAL)
        needs = []
        for purpose in wanted:
            client_id = position.orders.get(purpose)
            try:
                order = None if client_id is None else self.exchange.get_order(position.symbol, client_id)
            except NotFoundYet:  # reduce-only: a second one cannot hurt, and the one not current is cancelled
                order = None
            resting = order is not None and not order.status.is_final
            short = purpose != Purpose.PARTIAL and order is not None and order.quantity < position.open_quantity
            if not resting or short:
                needs.append(purpose)
        return tuple(needs)

    def _unsure(self, position: LivePosition) -> None:
        self.unsure.setdefault(position.id, self.clock.now_ms())

    def _cancel(self, position: LivePosition, client_id: str) -> None:
        try:
            self.exchange.cancel_order(position.symbol, client_id)
        except ExchangeError as error:  # gone already, or not now: a reconcile cancels a replaced order left resting
            log.info("%s replaced order %s not cancelled: %s", position.id, client_id, error)

    def move_stop(self, position_id: str, stop_price: Decimal) -> StopMoved | None:
        """A trailing move: replace the resting stop. The answer says which stop rests now (None: the position is
        gone)."""
        position = self.book.get(position_id)
        if position is None:
            return None
        if position.state not in LIVE_EXIT_STATES or position.open_quantity <= 0 or position.stop_price is None:
            return StopMoved(position_id=position.id, stop_price=position.stop_price or stop_price, moved=False)
        position.stop_moves += 1
        moved = self.replace_resting(position, Purpose.STOP, stop_price, crossed="trailing stop already crossed")
        assert position.stop_price is not None
        return StopMoved(position_id=position.id, stop_price=position.stop_price, moved=moved)

    def replace_resting(self, position: LivePosition, purpose: str, price: Decimal, *, crossed: str) -> bool:
        """Replace the resting stop or take-profit (`purpose`) with one at `price`; the old one is cancelled only once
        the new one rests, so the position is never less protected. True when the new one rests (or may: its outcome
        is not known, and `ensure` settles it); False when the old one still does. One the price already crossed
        closes the position at market for `crossed`."""
        old = position.orders.get(purpose)
        previous = _resting_price(position, purpose)
        _set_resting_price(position, purpose, price)
        ((_, request),) = self.requests(position, Decimal(0), (purpose,))
        self.journal.defer(*self.register(position, [(purpose, request)]), position_numbers(position))
        self.journal.flush()  # write ahead: the new order's row is durable before it is sent

        def keep_old() -> None:
            _set_resting_price(position, purpose, previous)
            if old is not None:
                self.book.index(position, purpose, old)
            self.journal.defer(position_numbers(position))

        try:
            self.journal.record_sent(self.exchange.place_order(request))
        except RateLimited as error:  # nothing was sent: the old order still rests, the next move tries again
            self.journal.defer(self.journal.not_sent(request.client_order_id, str(error)))
            keep_old()
            return False
        except OrderRejected as error:
            self.journal.defer(self.journal.refused(request.client_order_id, error))
            self.filters.refused(error)
            keep_old()
            if error.code == RejectCode.ORDER_WOULD_IMMEDIATELY_TRIGGER:
                self.closing.close(position.id, crossed)
            return False
        except OutcomeUnknown as error:
            # The new order may rest or not: the old one stays too; `ensure` looks the new one up, places it again if
            # it is not there, and the reconcile cancels whichever is not current.
            log.warning(
                "%s new %s %s: outcome unknown (%s); the old one stays",
                position.id,
                purpose,
                request.client_order_id,
                error,
            )
            self._unsure(position)
            return True
        if old is not None:  # only after the new order rests: the position is never unprotected
            try:
                self.exchange.cancel_order(position.symbol, old)
            except ExchangeError as error:  # gone already, or not now: a reconcile cancels a replaced one left resting
                log.info("%s old %s %s not cancelled: %s", position.id, purpose, old, error)
        return True

    def _take_partial_now(self, position: LivePosition, quantity: Decimal) -> None:
        """The partial take-profit's price is already passed: take that part at market (its fill is the partial's).
        Once sent, or perhaps sent, the partial is taken: nothing places it again (a further trade of the entry, a
        look at the protection), so it is never taken twice."""
        request = position.order_request(self.book.prefix, Purpose.PARTIAL, OrderType.MARKET, quantity)
        position.partial_taken = True
        self.journal.defer(*self.register(position, [(Purpose.PARTIAL, request)]), position_numbers(position))
        self.journal.flush()  # write ahead
        log.info("%s partial take-profit already crossed: %s taken at market", position.id, quantity)
        try:
            self.journal.record_sent(self.exchange.place_order(request))
        except OrderRejected as error:
            self._partial_not_taken(position)
            self.journal.defer(self.journal.refused(request.client_order_id, error))
            self.filters.refused(error)
            log.warning("%s partial take-profit at market refused: %s", position.id, error)
        except RateLimited as error:
            self._partial_not_taken(position)
            self.journal.defer(self.journal.not_sent(request.client_order_id, str(error)))
            log.warning("%s partial take-profit at market not sent: %s", position.id, error)
        except OutcomeUnknown as error:
            log.warning(
                "%s partial take-profit at market: outcome unknown (%s); reconciled at the next start",
                position.id,
                error,
            )

    def _partial_not_taken(self, position: LivePosition) -> None:
        """The partial's order at market was not sent, or refused: the partial may be placed again."""
        position.partial_taken = False
        self.journal.defer(position_numbers(position))


def _resting_price(position: LivePosition, purpose: str) -> Decimal | None:
    return position.stop_price if purpose == Purpose.STOP else position.take_profit_price


def _set_resting_price(position: LivePosition, purpose: str, price: Decimal | None) -> None:
    if purpose == Purpose.STOP:
        position.stop_price = price
    else:
        position.take_profit_price = price
