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
notional. The money and positions are the account's (`account.py`), which has
no margin or liquidation model: it never refuses an order for lack of margin.

A rejected request raises `OrderRejected` and leaves no trace, as on Binance; its
client id stays free (the checks are `checks.py`'s). The orders and their fills
are the book's (`book.py`), which keeps recent finished ones answerable, so a
double send is rejected with DUPLICATED_CLIENT_ORDER_ID.

`revision()` changes with every change of the account (orders, fills, positions,
balance, queued events, filters) and of the prices it last saw: its owner saves
`to_state()` only when the revision differs from the one it saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from exchange.market import Candle, SymbolFilters, to_decimal
from exchange.paper import state as saved
from exchange.paper.account import PaperAccount
from exchange.paper.book import OrderBook
from exchange.paper.checks import check_client_id, check_order
from exchange.paper.rules import (
    DEFAULT_FILTERS,
    ZERO,
    fee_for,
    filters_for_price,
    is_triggered,
    reduces,
    taker_price,
    triggers_on_rise,
)
from exchange.paper.state import PaperState
from exchange.port import (
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
        self._account = PaperAccount(self._starting_balance)
        self._now = 0
        self._next_order_id = 1
        self._next_trade_id = 1
        self._last: dict[str, float] = {}
        self._book = OrderBook()
        self._events: list[ExchangeEvent] = []
        self._revision = 0
        self._balance = Balance(asset="USDT", wallet_balance=self._starting_balance, unrealized_pnl=ZERO)

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
        if not self._book.may_fill(candle):
            return
        self._match(candle)
        self._book.forget_old()

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
        self._book.add(state)
        self._events.append(state)
        return state

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        order = self._book.get(client_order_id)
        if order is None or order.symbol != symbol or order.status.is_final:
            raise OrderRejected(RejectCode.UNKNOWN_ORDER, "Unknown order sent.")
        return self._close_order(replace(order, status=OrderStatus.CANCELED, updated_at=self._now))

    def get_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        order = self._book.get(client_order_id)
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
        fill = self._book.fill_of(client_order_id)
        return (fill,) if fill is not None and fill.symbol == symbol else ()

    def open_orders(self, symbol: str | None = None) -> tuple[OrderState, ...]:
        return self._book.open_orders(symbol)

    def positions(self) -> tuple[ExchangePosition, ...]:
        return tuple(self._account.position(symbol, self.last_price(symbol)) for symbol in self._account.symbols())

    def balance(self) -> Balance:
        unrealized = self._account.unrealized_pnl(self.last_price)
        wallet, last = self._account.wallet, self._balance
        if last.wallet_balance == wallet and last.unrealized_pnl == unrealized:
            return last  # asked every step: flat, or prices unmoved, the same balance
        self._balance = Balance(asset="USDT", wallet_balance=wallet, unrealized_pnl=unrealized)
        return self._balance

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
        check_client_id(request.client_order_id)
        if request.client_order_id in self._book:
            raise OrderRejected(RejectCode.DUPLICATED_CLIENT_ORDER_ID, "Duplicated clientOrderId.")
        try:
            filters = self.symbol_filters(request.symbol)
        except UnknownSymbol:
            raise OrderRejected(RejectCode.BAD_SYMBOL, "Invalid symbol.") from None
        position_qty, last = self._account.quantity(request.symbol), self.last_price(request.symbol)
        check_order(request, filters, position_qty=position_qty, last_price=last)

    # --- matching -----------------------------------------------------------------

    def _match(self, candle: Candle) -> None:
        symbol = candle.symbol
        open_ = to_decimal(candle.open)
        markets = [order.client_order_id for order in self._book.open_in(symbol) if order.type is OrderType.MARKET]
        for cid in markets:
            order = self._book.order(cid)  # as it is now: an earlier fill may have expired it
            if not order.status.is_final:
                self._execute(order, open_, candle.open_time)
        high, low = to_decimal(candle.high), to_decimal(candle.low)
        triggered: list[tuple[int, int, int, OrderState]] = []
        for order in self._book.open_in(symbol):
            if is_triggered(order, open_):
                gap = 0
            elif is_triggered(order, high if triggers_on_rise(order.side, order.type) else low):
                gap = 1
            else:
                continue
            rank = 0 if order.type is OrderType.STOP_MARKET else 1
            triggered.append((gap, rank, order.exchange_order_id, order))
        for gap, _, _, order in sorted(triggered, key=lambda t: t[:3]):
            current = self._book.order(order.client_order_id)
            if current.status.is_final:  # expired by an earlier fill in this candle
                continue
            if gap == 0:
                self._execute(current, open_, candle.open_time)
            else:
                assert current.trigger_price is not None
                self._execute(current, current.trigger_price, candle.open_time + candle.interval_ms)

    def _execute(self, order: OrderState, reference: Decimal, at: int) -> None:
        symbol = order.symbol
        position_qty = self._account.quantity(symbol)
        quantity = order.quantity
        if order.reduce_only:
            if not reduces(order.side, position_qty):
                self._close_order(replace(order, status=OrderStatus.EXPIRED, updated_at=at))
                return
            quantity = min(quantity, abs(position_qty))
        price = taker_price(reference, order.side, self._taker_cost(symbol), self.symbol_filters(symbol))
        fee = fee_for(quantity, price, self._fee_rate)
        realized = self._account.settle(symbol, order.side, quantity, price, fee)
        self._revision += 1
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
        self._book.record_fill(fill)
        self._events.append(fill)
        self._next_trade_id += 1
        filled = replace(order, status=OrderStatus.FILLED, filled_qty=quantity, avg_price=price, updated_at=at)
        self._close_order(filled)
        self._expire_stale_reduce_only(symbol, self._account.quantity(symbol), at)

    def _taker_cost(self, symbol: str) -> Decimal:
        """What a taker pays beyond the mid, as a fraction of price: half the spread, then the slippage."""
        spread = self._symbol_spread_bps.get(symbol, self._spread_bps)
        return self._slippage + spread / 2 / _BPS if spread else self._slippage

    def _expire_stale_reduce_only(self, symbol: str, position_qty: Decimal, at: int) -> None:
        for order in self._book.open_in(symbol):
            if order.reduce_only and not reduces(order.side, position_qty):
                self._close_order(replace(order, status=OrderStatus.EXPIRED, updated_at=at))

    def _close_order(self, state: OrderState) -> OrderState:
        """Record a final state: out of the open book, onto the event queue."""
        self._revision += 1
        self._book.close(state)
        self._events.append(state)
        return state

    # --- persistence ---------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """The whole account as JSON-able data (the shape is `state.py`'s); the simulation terms are part of it."""
        return saved.encode(
            PaperState(
                starting_balance=self._starting_balance,
                fee_rate=self._fee_rate,
                slippage_bps=self._slippage_bps,
                wallet_balance=self._account.wallet,
                now=self._now,
                next_order_id=self._next_order_id,
                next_trade_id=self._next_trade_id,
                last_prices=dict(self._last),
                filters=dict(self._filters),
                positions=self._account.positions(),
                orders=self._book.orders(),
                open=self._book.open_by_symbol(),
                events=tuple(self._events),
                fills=self._book.fills(),
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
        exchange._account = PaperAccount(state.wallet_balance, state.positions)
        exchange._now = state.now
        exchange._next_order_id = state.next_order_id
        exchange._next_trade_id = state.next_trade_id
        exchange._last = dict(state.last_prices)
        exchange._book = OrderBook.restore(state.orders, state.open, state.fills)
        exchange._events = list(state.events)
        return exchange
