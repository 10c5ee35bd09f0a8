"""The paper exchange's order book: every accepted order, the open ones per symbol, and each filled order's fill.

Every open order is kept, and the last `KEEP_FINISHED` finished ones with their
fills, so a recent client id can be looked up and a double send refused; older
finished orders age out as an exchange's order history does, which keeps the
saved account bounded.

Per symbol with open orders the book keeps what a candle must reach to fill any
of them (a market order pending, the highest falling trigger, the lowest rising
one), so the exchange skips, with three float comparisons, a candle that cannot.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from exchange.market import Candle
from exchange.paper.rules import triggers_on_rise
from exchange.port import Fill, OrderState, OrderType

KEEP_FINISHED = 2_000  # finished orders (with their fills) kept answerable; older ones age out


class OrderBook:
    def __init__(self) -> None:
        self._orders: dict[str, OrderState] = {}  # every accepted order, by client id
        self._fills: dict[str, Fill] = {}  # the one fill of every filled order, by client id
        self._open: dict[str, dict[str, None]] = {}  # symbol -> open client ids, in placement order
        self._watch: dict[str, tuple[bool, float, float]] = {}  # symbol -> (market pending, falling, rising)

    @classmethod
    def restore(
        cls, orders: Iterable[OrderState], open_ids: Mapping[str, Iterable[str]], fills: Iterable[Fill]
    ) -> OrderBook:
        """The book `orders`, `open_ids` and `fills` describe (as `PaperState` saves them)."""
        book = cls()
        book._orders = {order.client_order_id: order for order in orders}
        book._open = {symbol: dict.fromkeys(cids) for symbol, cids in open_ids.items()}
        for symbol in list(book._open):
            book._refresh_watch(symbol)
        book._fills = {fill.client_order_id: fill for fill in fills}
        return book

    def __contains__(self, client_order_id: str) -> bool:
        return client_order_id in self._orders

    def get(self, client_order_id: str) -> OrderState | None:
        return self._orders.get(client_order_id)

    def order(self, client_order_id: str) -> OrderState:
        """The current state of an order known to be in the book (one of `open_in`'s, say)."""
        return self._orders[client_order_id]

    def fill_of(self, client_order_id: str) -> Fill | None:
        return self._fills.get(client_order_id)

    def orders(self) -> tuple[OrderState, ...]:
        return tuple(self._orders.values())

    def fills(self) -> tuple[Fill, ...]:
        return tuple(self._fills.values())

    def open_in(self, symbol: str) -> list[OrderState]:
        """`symbol`'s open orders as they are now, in placement order (a list: filling them changes the book)."""
        orders = self._orders
        return [orders[cid] for cid in self._open.get(symbol, ())]

    def open_by_symbol(self) -> dict[str, tuple[str, ...]]:
        return {symbol: tuple(ids) for symbol, ids in self._open.items()}

    def open_orders(self, symbol: str | None = None) -> tuple[OrderState, ...]:
        symbols = [symbol] if symbol is not None else list(self._open)
        found = [self._orders[cid] for s in symbols for cid in self._open.get(s, ())]
        return tuple(sorted(found, key=lambda o: o.exchange_order_id))

    def may_fill(self, candle: Candle) -> bool:
        """Whether `candle` can fill any of its symbol's open orders; False only when it surely cannot."""
        watch = self._watch.get(candle.symbol)
        if watch is None:
            return False
        # Float pre-check is safe: float() of a Decimal trigger rounds monotonically, so a
        # low strictly above every falling trigger (as floats) is above it exactly too.
        return watch[0] or not (candle.low > watch[1] and candle.high < watch[2])

    def add(self, state: OrderState) -> None:
        """A newly accepted order, open."""
        self._orders[state.client_order_id] = state
        self._open.setdefault(state.symbol, {})[state.client_order_id] = None
        self._refresh_watch(state.symbol)

    def close(self, state: OrderState) -> None:
        """An order's final state: out of the open book."""
        self._orders[state.client_order_id] = state
        book = self._open.get(state.symbol)
        if book is not None:
            book.pop(state.client_order_id, None)
        self._refresh_watch(state.symbol)

    def record_fill(self, fill: Fill) -> None:
        self._fills[fill.client_order_id] = fill

    def forget_old(self) -> None:
        """Keep the book bounded: once the finished orders are more than twice `KEEP_FINISHED`, the most recent
        `KEEP_FINISHED` (and their fills) stay answerable to lookups; older ones are forgotten. Open orders stay."""
        if len(self._orders) - sum(map(len, self._open.values())) <= 2 * KEEP_FINISHED:
            return
        open_ids = {cid for ids in self._open.values() for cid in ids}
        finished = [cid for cid in self._orders if cid not in open_ids]
        for cid in finished[: len(finished) - KEEP_FINISHED]:
            del self._orders[cid]
            self._fills.pop(cid, None)

    def _refresh_watch(self, symbol: str) -> None:
        book = self._open.get(symbol)
        if not book:
            self._open.pop(symbol, None)
            self._watch.pop(symbol, None)
            return
        market, falling, rising = False, -math.inf, math.inf
        for cid in book:
            order = self._orders[cid]
            if order.type is OrderType.MARKET:
                market = True
            else:
                assert order.trigger_price is not None  # checked before it was accepted (checks.py)
                if triggers_on_rise(order.side, order.type):
                    rising = min(rising, float(order.trigger_price))
                else:
                    falling = max(falling, float(order.trigger_price))
        self._watch[symbol] = (market, falling, rising)
