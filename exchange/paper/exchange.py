"""The embedded paper exchange: one USDT-margined account, one-way mode, driven by candles.

Time and prices come only from the candles fed to `on_candle`; nothing reads the
wall clock, so a replay is deterministic.

Matching, per candle of a symbol with open orders:

1. Market orders placed since the previous candle fill at this candle's open
   (the next price seen after the order), plus half the configured spread and
   the slippage against the taker (the candle's prices are the book's mid).
2. Resting STOP_MARKET / TAKE_PROFIT_MARKET orders trigger from the candle's
   range. An order already through its trigger at the open (a gap) fills at the
   open, before anything inside the candle. Inside the candle, when a stop and a
   take-profit could both have triggered, the stop fills first: the candle does
   not say which came first and assuming the worse one keeps paper results
   honest. Intrabar fills are at the trigger price, plus half the spread and
   the slippage.
3. After every fill, reduce-only orders that can no longer reduce (the position
   is flat or flipped) expire; a reduce-only fill is clipped to the position, so
   it never increases or flips it.

Fill prices are rounded to the tick against the taker. Fees are fee_rate x
notional. There is no margin or liquidation model: the paper account never
refuses an order for lack of margin.

A rejected request raises `OrderRejected` and leaves no trace, as on Binance; its
client id stays free. Every open order is kept, and the last `KEEP_FINISHED`
finished ones with their fills, so a recent client id can be looked up
(`get_order`) and a double send is rejected with DUPLICATED_CLIENT_ORDER_ID;
older finished orders age out as an exchange's order history does, which keeps
the saved account bounded.

`revision()` changes with every change of the account (orders, fills, positions,
balance, queued events, filters) and of the prices it last saw: its owner saves
`to_state()` only when the revision differs from the one it saved.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from exchange.market import Candle, SymbolFilters, to_decimal
from exchange.paper import state as saved
from exchange.paper.rules import (
    DEFAULT_FILTERS,
    ZERO,
    apply_fill,
    fee_for,
    filters_for_price,
    is_multiple,
    is_triggered,
    reduces,
    taker_price,
    triggers_on_rise,
    unrealized_pnl,
)
from exchange.paper.state import PaperState
from exchange.port import (
    CLIENT_ORDER_ID_PATTERN,
    Balance,
    ExchangeEvent,
    ExchangePosition,
    Fill,
    OrderRejected,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    RejectCode,
    UnknownSymbol,
)

if TYPE_CHECKING:
    from config.sections import PaperSettings

_BPS = Decimal(10_000)
KEEP_FINISHED = 2_000  # finished orders (with their fills) kept answerable; older ones age out


class PaperExchange:
    """Implements `ExchangePort`; feed it every closed candle with `on_candle`."""

    def __init__(
        self,
        *,
        starting_balance: Decimal,
        fee_rate: Decimal,
        slippage_bps: Decimal,
        filters: Mapping[str, SymbolFilters] | None = None,
        spread_bps: Decimal = ZERO,
        symbol_spread_bps: Mapping[str, Decimal] | None = None,
    ) -> None:
        """`spread_bps`: the simulated book's spread around the candle price, every symbol's unless
        `symbol_spread_bps` names it; a taker pays half of it before the slippage."""
        self._starting_balance = Decimal(starting_balance)
        self._fee_rate = Decimal(fee_rate)
        self._slippage_bps = Decimal(slippage_bps)
        self._slippage = self._slippage_bps / _BPS
        self._spread_bps = Decimal(spread_bps)
        self._symbol_spread_bps = {symbol: Decimal(bps) for symbol, bps in (symbol_spread_bps or {}).items()}
        if self._spread_bps < 0 or any(bps < 0 for bps in self._symbol_spread_bps.values()):
            raise ValueError("a spread cannot be negative")
        self._filters: dict[str, SymbolFilters] = dict(DEFAULT_FILTERS if filters is None else filters)
        self._wallet = self._starting_balance
        self._now = 0
        self._next_order_id = 1
        self._next_trade_id = 1
        self._last: dict[str, float] = {}
        self._positions: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (signed qty, entry); never flat
        self._orders: dict[str, OrderState] = {}  # every accepted order, by client id
        self._fills: dict[str, Fill] = {}  # the one fill of every filled order, by client id
        self._open: dict[str, dict[str, None]] = {}  # symbol -> open client ids, in placement order
        # symbol -> (market order pending, highest falling trigger, lowest rising trigger): lets
        # on_candle skip, with three float comparisons, a candle that cannot fill anything.
        self._watch: dict[str, tuple[bool, float, float]] = {}
        self._events: list[ExchangeEvent] = []
        self._revision = 0

    @classmethod
    def from_settings(
        cls,
        settings: PaperSettings,
        filters: Mapping[str, SymbolFilters] | None = None,
    ) -> PaperExchange:
        return cls(
            starting_balance=settings.starting_balance,
            fee_rate=settings.fee_rate,
            slippage_bps=settings.slippage_bps,
            filters=filters,
            spread_bps=settings.spread_bps,
            symbol_spread_bps=settings.symbol_spread_bps,
        )

    # --- market data -------------------------------------------------------------

    def on_candle(self, candle: Candle) -> None:
        """Advance the exchange by one closed candle of one symbol (candles in time order)."""
        symbol = candle.symbol
        self._revision += 1  # its last price, at least
        self._last[symbol] = candle.close
        close_time = candle.open_time + candle.interval_ms
        if close_time > self._now:
            self._now = close_time
        watch = self._watch.get(symbol)
        if watch is None:
            return
        # Float pre-check is safe: float() of a Decimal trigger rounds monotonically, so a
        # low strictly above every falling trigger (as floats) is above it exactly too.
        if not watch[0] and candle.low > watch[1] and candle.high < watch[2]:
            return
        self._match(candle)
        if len(self._orders) - sum(map(len, self._open.values())) > 2 * KEEP_FINISHED:
            self._forget_old_orders()

    def _forget_old_orders(self) -> None:
        """Keep the account bounded: the most recent `KEEP_FINISHED` finished orders (and their fills) stay
        answerable to lookups; older ones are forgotten, as an exchange's order history ages out. Open orders stay."""
        open_ids = {cid for ids in self._open.values() for cid in ids}
        finished = [cid for cid in self._orders if cid not in open_ids]
        for cid in finished[: len(finished) - KEEP_FINISHED]:
            del self._orders[cid]
            self._fills.pop(cid, None)

    def configured_spread_bps(self, symbol: str) -> float | None:
        """The spread this paper market quotes `symbol` at, in basis points."""
        return float(self._symbol_spread_bps.get(symbol, self._spread_bps))

    def last_price(self, symbol: str) -> Decimal | None:
        last = self._last.get(symbol)
        return None if last is None else to_decimal(last)

    # --- ExchangePort ------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> OrderState:
        self._validate(request)
        state = OrderState(
            client_order_id=request.client_order_id,
            exchange_order_id=self._next_order_id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            quantity=request.quantity,
            trigger_price=request.trigger_price,
            reduce_only=request.reduce_only,
            status=OrderStatus.NEW,
            updated_at=self._now,
        )
        self._next_order_id += 1
        self._revision += 1
        self._orders[state.client_order_id] = state
        self._open.setdefault(state.symbol, {})[state.client_order_id] = None
        self._refresh_watch(state.symbol)
        self._events.append(state)
        return state

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        order = self._orders.get(client_order_id)
        if order is None or order.symbol != symbol or order.status.is_final:
            raise OrderRejected(RejectCode.UNKNOWN_ORDER, "Unknown order sent.")
        return self._close_order(replace(order, status=OrderStatus.CANCELED, updated_at=self._now))

    def get_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        order = self._orders.get(client_order_id)
        return order if order is not None and order.symbol == symbol else None

    def blocked(self) -> str:
        return ""  # the paper exchange never throttles

    def reports_every_change(self) -> bool:
        return True  # every fill and order state, whoever's, is queued for drain_events

    def health(self) -> str:
        return ""  # nothing streams between the paper exchange and its caller

    def close(self) -> None:
        """Nothing to release: the account lives in memory, saved through `to_state`."""

    def order_fills(self, symbol: str, client_order_id: str) -> tuple[Fill, ...]:
        fill = self._fills.get(client_order_id)
        return (fill,) if fill is not None and fill.symbol == symbol else ()

    def open_orders(self, symbol: str | None = None) -> tuple[OrderState, ...]:
        symbols = [symbol] if symbol is not None else list(self._open)
        found = [self._orders[cid] for s in symbols for cid in self._open.get(s, ())]
        return tuple(sorted(found, key=lambda o: o.exchange_order_id))

    def positions(self) -> tuple[ExchangePosition, ...]:
        return tuple(self._position(symbol) for symbol in sorted(self._positions))

    def balance(self) -> Balance:
        unrealized = sum((p.unrealized_pnl for p in self.positions()), ZERO)
        return Balance(asset="USDT", wallet_balance=self._wallet, unrealized_pnl=unrealized)

    def equity(self) -> Decimal:
        return self.balance().equity

    def symbol_filters(self, symbol: str) -> SymbolFilters:
        filters = self._filters.get(symbol)
        if filters is not None:
            return filters
        last = self.last_price(symbol)
        if last is None or last <= 0:
            raise UnknownSymbol(symbol)
        # Derived once and kept, so the rules of a symbol do not drift with its price.
        filters = self._filters[symbol] = filters_for_price(last)
        self._revision += 1
        return filters

    def set_symbol_filters(self, symbol: str, filters: SymbolFilters) -> None:
        self._filters[symbol] = filters
        self._revision += 1

    def refresh_filters(self) -> None:
        """Nothing to read again: a symbol's rules change only through `set_symbol_filters`."""

    def pending_events(self) -> tuple[ExchangeEvent, ...]:
        """What `drain_events` would return, left in place (a dry-run recovery reads it)."""
        return tuple(self._events)

    def drain_events(self) -> tuple[ExchangeEvent, ...]:
        events, self._events = tuple(self._events), []
        if events:
            self._revision += 1
        return events

    def revision(self) -> int:
        return self._revision

    # --- validation (before any change of state) -----------------------------------

    def _validate(self, request: OrderRequest) -> None:
        cid = request.client_order_id
        if not 1 <= len(cid) <= 36:
            raise OrderRejected(RejectCode.INVALID_CLIENT_ORDER_ID, "Client order id length should be 1 to 36 chars.")
        if not CLIENT_ORDER_ID_PATTERN.match(cid):
            raise OrderRejected(RejectCode.ILLEGAL_CHARS, "Illegal characters found in parameter 'newClientOrderId'.")
        if cid in self._orders:
            raise OrderRejected(RejectCode.DUPLICATED_CLIENT_ORDER_ID, "Duplicated clientOrderId.")
        try:
            filters = self.symbol_filters(request.symbol)
        except UnknownSymbol:
            raise OrderRejected(RejectCode.BAD_SYMBOL, "Invalid symbol.") from None
        self._validate_quantity(request, filters)
        self._validate_trigger(request, filters)
        position_qty = self._positions.get(request.symbol, (ZERO, ZERO))[0]
        if request.reduce_only and not reduces(request.side, position_qty):
            raise OrderRejected(RejectCode.REDUCE_ONLY_REJECT, "ReduceOnly Order is rejected.")
        # As on Binance, reduce-only orders are exempt: closing a small remainder must stay possible.
        reference = request.trigger_price or self.last_price(request.symbol)
        if not request.reduce_only and reference is not None and request.quantity * reference < filters.min_notional:
            raise OrderRejected(
                RejectCode.MIN_NOTIONAL,
                f"Order's notional must be no smaller than {filters.min_notional}.",
            )

    @staticmethod
    def _validate_quantity(request: OrderRequest, filters: SymbolFilters) -> None:
        if request.quantity <= 0:
            raise OrderRejected(RejectCode.QTY_LESS_THAN_ZERO, "Quantity less than or equal to zero.")
        if not is_multiple(request.quantity, filters.step_size):
            raise OrderRejected(RejectCode.QTY_NOT_INCREASED_BY_STEP_SIZE, "Qty not increased by step size.")
        if request.quantity < filters.min_qty:
            raise OrderRejected(RejectCode.QTY_LESS_THAN_MIN_QTY, "Quantity less than min quantity.")

    def _validate_trigger(self, request: OrderRequest, filters: SymbolFilters) -> None:
        if request.type is OrderType.MARKET:
            if request.trigger_price is not None:
                raise OrderRejected(RejectCode.PARAM_NOT_REQUIRED, "Parameter 'stopPrice' sent when not required.")
            return
        trigger = request.trigger_price
        if trigger is None or trigger <= 0:
            raise OrderRejected(
                RejectCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
                "Mandatory parameter 'stopPrice' was not sent.",
            )
        if not is_multiple(trigger, filters.tick_size):
            raise OrderRejected(RejectCode.PRICE_NOT_INCREASED_BY_TICK_SIZE, "Price not increased by tick size.")
        last = self.last_price(request.symbol)
        if last is not None and (last >= trigger if triggers_on_rise(request.side, request.type) else last <= trigger):
            raise OrderRejected(RejectCode.ORDER_WOULD_IMMEDIATELY_TRIGGER, "Order would immediately trigger.")

    # --- matching -----------------------------------------------------------------

    def _match(self, candle: Candle) -> None:
        symbol = candle.symbol
        open_ = to_decimal(candle.open)
        for cid in list(self._open.get(symbol, ())):
            order = self._orders[cid]
            if order.type is OrderType.MARKET and not order.status.is_final:
                self._execute(order, open_, candle.open_time)
        high, low = to_decimal(candle.high), to_decimal(candle.low)
        triggered: list[tuple[int, int, int, OrderState]] = []
        for cid in self._open.get(symbol, ()):
            order = self._orders[cid]
            if is_triggered(order, open_):
                gap = 0
            elif is_triggered(order, high if triggers_on_rise(order.side, order.type) else low):
                gap = 1
            else:
                continue
            rank = 0 if order.type is OrderType.STOP_MARKET else 1
            triggered.append((gap, rank, order.exchange_order_id, order))
        for gap, _, _, order in sorted(triggered, key=lambda t: t[:3]):
            current = self._orders[order.client_order_id]
            if current.status.is_final:  # expired by an earlier fill in this candle
                continue
            if gap == 0:
                self._execute(current, open_, candle.open_time)
            else:
                assert current.trigger_price is not None
                self._execute(current, current.trigger_price, candle.open_time + candle.interval_ms)

    def _execute(self, order: OrderState, reference: Decimal, at: int) -> None:
        symbol = order.symbol
        position_qty, entry = self._positions.get(symbol, (ZERO, ZERO))
        quantity = order.quantity
        if order.reduce_only:
            if not reduces(order.side, position_qty):
                self._close_order(replace(order, status=OrderStatus.EXPIRED, updated_at=at))
                return
            quantity = min(quantity, abs(position_qty))
        price = taker_price(reference, order.side, self._taker_cost(symbol), self.symbol_filters(symbol))
        fee = fee_for(quantity, price, self._fee_rate)
        new_qty, new_entry, realized = apply_fill(position_qty, entry, order.side, quantity, price)
        self._wallet += realized - fee
        self._revision += 1
        if new_qty == 0:
            self._positions.pop(symbol, None)
        else:
            self._positions[symbol] = (new_qty, new_entry)
        fill = Fill(
            client_order_id=order.client_order_id,
            symbol=symbol,
            side=order.side,
            quantity=quantity,
            price=price,
            fee=fee,
            realized_pnl=realized,
            at=at,
            trade_id=self._next_trade_id,
        )
        self._fills[order.client_order_id] = fill
        self._events.append(fill)
        self._next_trade_id += 1
        filled = replace(order, status=OrderStatus.FILLED, filled_qty=quantity, avg_price=price, updated_at=at)
        self._close_order(filled)
        self._expire_stale_reduce_only(symbol, new_qty, at)

    def _taker_cost(self, symbol: str) -> Decimal:
        """What a taker pays beyond the mid, as a fraction of price: half the spread, then the slippage."""
        spread = self._symbol_spread_bps.get(symbol, self._spread_bps)
        return self._slippage + spread / 2 / _BPS if spread else self._slippage

    def _expire_stale_reduce_only(self, symbol: str, position_qty: Decimal, at: int) -> None:
        for cid in list(self._open.get(symbol, ())):
            order = self._orders[cid]
            if order.reduce_only and not reduces(order.side, position_qty):
                self._close_order(replace(order, status=OrderStatus.EXPIRED, updated_at=at))

    def _close_order(self, state: OrderState) -> OrderState:
        """Record a final state: out of the open book, onto the event queue."""
        self._revision += 1
        self._orders[state.client_order_id] = state
        book = self._open.get(state.symbol)
        if book is not None:
            book.pop(state.client_order_id, None)
        self._refresh_watch(state.symbol)
        self._events.append(state)
        return state

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
                assert order.trigger_price is not None  # checked by _validate_trigger before it was accepted
                if triggers_on_rise(order.side, order.type):
                    rising = min(rising, float(order.trigger_price))
                else:
                    falling = max(falling, float(order.trigger_price))
        self._watch[symbol] = (market, falling, rising)

    def _position(self, symbol: str) -> ExchangePosition:
        quantity, entry = self._positions[symbol]
        mark = self.last_price(symbol)
        pnl = ZERO if mark is None else unrealized_pnl(quantity, entry, mark)
        return ExchangePosition(
            symbol=symbol,
            quantity=quantity,
            entry_price=entry,
            unrealized_pnl=pnl,
            mark_price=mark,
        )

    # --- persistence ---------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """The whole account as JSON-able data (the shape is `state.py`'s); the simulation terms are part of it."""
        return saved.encode(
            PaperState(
                starting_balance=self._starting_balance,
                fee_rate=self._fee_rate,
                slippage_bps=self._slippage_bps,
                wallet_balance=self._wallet,
                now=self._now,
                next_order_id=self._next_order_id,
                next_trade_id=self._next_trade_id,
                last_prices=dict(self._last),
                filters=dict(self._filters),
                positions=dict(self._positions),
                orders=tuple(self._orders.values()),
                open={symbol: tuple(book) for symbol, book in self._open.items()},
                events=tuple(self._events),
                fills=tuple(self._fills.values()),
            )
        )

    @classmethod
    def from_state(
        cls,
        data: Mapping[str, Any],
        *,
        spread_bps: Decimal = ZERO,
        symbol_spread_bps: Mapping[str, Decimal] | None = None,
    ) -> PaperExchange:
        """The account `to_state` saved; raises `PaperStateError` (a ValueError) for one it cannot read. The spread
        is the simulated market's, not the account's: it is not saved, and comes from the settings at each start."""
        state = saved.decode(data)
        exchange = cls(
            starting_balance=state.starting_balance,
            fee_rate=state.fee_rate,
            slippage_bps=state.slippage_bps,
            filters=state.filters,
            spread_bps=spread_bps,
            symbol_spread_bps=symbol_spread_bps,
        )
        exchange._wallet = state.wallet_balance
        exchange._now = state.now
        exchange._next_order_id = state.next_order_id
        exchange._next_trade_id = state.next_trade_id
        exchange._last = dict(state.last_prices)
        exchange._positions = dict(state.positions)
        exchange._orders = {order.client_order_id: order for order in state.orders}
        exchange._open = {symbol: dict.fromkeys(cids) for symbol, cids in state.open.items()}
        for symbol in list(exchange._open):
            exchange._refresh_watch(symbol)
        exchange._events = list(state.events)
        exchange._fills = {fill.client_order_id: fill for fill in state.fills}
        return exchange
