"""The Binance USD-M futures exchange port: one account, one-way position mode, USDT-margined.

Orders are `orders.py`'s (regular ones at `/fapi/v1/order`, conditional ones at
the algo service). Fills and order updates come from the user-data stream
(`user_stream.py`), drained with `drain_events()`; after a gap in it, `resync.py`
reads through REST what the stream missed. Here: the start (clock, rules, mode,
leverage, stream; put off while a ban is in force), the account's reads, and the
port's health.

Every request goes through `rest.py`, which maps its failures to the port's (see
`port.py`); only "does not exist" becomes None on `get_order`. The API key
and secret live only inside the REST client: no message, log line or repr of the
port includes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from exchange.binance import payloads
from exchange.binance.endpoints import endpoints
from exchange.binance.orders import BinanceOrders
from exchange.binance.rest import BinanceRest
from exchange.binance.resync import Resync
from exchange.binance.translator import EventTranslator
from exchange.binance.user_stream import UserStream
from exchange.market import Candle, SymbolFilters
from exchange.port import (
    Balance,
    ExchangeError,
    ExchangeEvent,
    ExchangePosition,
    Fill,
    OrderRejected,
    OrderRequest,
    OrderState,
    RateLimited,
    UnknownSymbol,
)

NO_NEED_TO_CHANGE_POSITION_SIDE = -4059


class BinanceExchange:
    """Implements `ExchangePort` against Binance USD-M futures (or a server that speaks its API)."""

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        base_url: str | None = None,
        ws_url: str | None = None,
        testnet: bool = True,
        symbols: Sequence[str] = (),
        leverage: int = 5,
        timeout_s: float = 10.0,
        recv_window_ms: int = 5000,
        working_type: str = "CONTRACT_PRICE",
        user_stream: bool = True,
        keepalive_s: float = 30 * 60,
        reconnect_delay_s: float = 1.0,
        max_reconnect_delay_s: float = 60.0,
        stream_silence_s: float = 60.0,
        lookup_grace_s: float = 30.0,
        resync_margin_ms: int = 5_000,
        client_id_prefix: str | None = None,
        translator: EventTranslator | None = None,
        load_block: Callable[[], tuple[int, str] | None] | None = None,
        save_block: Callable[[int, str], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.base_url, self.ws_url = endpoints(base_url, ws_url, testnet=testnet)
        self._rest = BinanceRest(
            api_key=api_key,
            api_secret=api_secret,
            base_url=self.base_url,
            timeout_s=timeout_s,
            recv_window_ms=recv_window_ms,
            monotonic=monotonic,
            wall_ms=wall_ms,
            on_block=save_block,
            load_block=load_block,
        )
        self._load_block = load_block
        self._deferred_start: bool | None = None  # `configure` of a start put off by a ban in force
        self._symbols, self._leverage = tuple(symbols), leverage
        self._monotonic = monotonic
        self._filters: dict[str, SymbolFilters] = {}
        # The orders, the stream and the resync share one translator (a test's may tell it when events are queued).
        self.translator = translator if translator is not None else EventTranslator(own_prefix=client_id_prefix)
        self._stream: UserStream | None = None
        self._stream_enabled, self._keepalive_s, self._reconnect_delay_s = user_stream, keepalive_s, reconnect_delay_s
        self._max_reconnect_delay_s, self._stream_silence_s = max_reconnect_delay_s, stream_silence_s
        self._stream_wanted = False  # started with a user-data stream: its health is the port's
        self._resync_margin_ms = resync_margin_ms
        self._orders = BinanceOrders(
            rest=self._rest,
            translator=self.translator,
            ready=self._started,
            working_type=working_type,
            lookup_grace_s=lookup_grace_s,
            monotonic=monotonic,
        )

    def __repr__(self) -> str:
        return f"BinanceExchange(base_url={self.base_url!r})"

    # --- lifecycle --------------------------------------------------------------------------------------------------

    def start(self, *, connect_timeout_s: float = 10.0, configure: bool = True) -> BinanceExchange:
        """Clock offset, trading rules, one-way mode and leverage, then the user-data stream.

        `configure=False` (a dry run): the clock offset and trading rules only; nothing that changes the
        account (position mode, leverage) and no user-data stream, whose listen key is a POST too.

        A ban or rate limit kept from before a restart (`load_block`) and not over yet: nothing at all is sent;
        the port reports it in `blocked()` and raises RateLimited on every call, and the first call after it
        ends does the start first (without waiting for the stream to connect: `health()` says until it does).
        A ban or rate limit met during the start itself is put off the same way.
        """
        kept = self._load_block() if self._load_block is not None else None
        if kept is not None and self._rest.restore_block(*kept):
            self._deferred_start = configure
            return self
        try:
            self._start(configure, connect_timeout_s)
        except RateLimited:  # a ban or rate limit met during the start: the same as one kept from before
            self._deferred_start = configure
        return self

    def _start(self, configure: bool, connect_timeout_s: float | None) -> None:
        self.sync_time()
        self.load_filters()
        if not configure:
            return
        self.set_one_way_mode()
        for symbol in self._symbols:
            self._rest.change_leverage(symbol, self._leverage)
        if self._stream_enabled:
            self._stream_wanted = True
            self._stream = UserStream(
                ws_url=self.ws_url,
                translator=self.translator,
                new_listen_key=self._rest.new_listen_key,
                keepalive=self._rest.keepalive_listen_key,
                resync=self.resync,
                monotonic=self._monotonic,
                now_ms=self._rest.server_now_ms,
                keepalive_s=self._keepalive_s,
                reconnect_delay_s=self._reconnect_delay_s,
                max_reconnect_delay_s=self._max_reconnect_delay_s,
                silence_s=self._stream_silence_s,
            )
            self._stream.start()
            if connect_timeout_s is not None and not self._stream.connected.wait(connect_timeout_s):
                self.close()
                raise ExchangeError("the user-data stream did not connect")

    def _started(self) -> None:
        """A start put off by a ban: done now if the ban is over (before the call that asked)."""
        if self._deferred_start is None or self._rest.blocked():
            return
        configure, self._deferred_start = self._deferred_start, None
        try:
            self._start(configure, None)
        except ExchangeError:
            self._deferred_start = configure  # tried again at the next call
            raise

    def close(self) -> None:
        """The user-data stream and the HTTP session; resting orders stay on the exchange."""
        if self._stream is not None:
            self._stream.stop()
            self._stream = None
        self._rest.close()

    @property
    def stream(self) -> UserStream | None:
        return self._stream

    def sync_time(self) -> int:
        """Set the client's timestamp offset from the server's clock (midpoint of the round trip)."""
        return self._rest.sync_time()

    def load_filters(self) -> dict[str, SymbolFilters]:
        self._filters = payloads.filters_from_exchange_info(self._rest.exchange_info())
        return dict(self._filters)

    def refresh_filters(self) -> None:
        """Read every symbol's trading rules again (exchangeInfo); `symbol_filters` answers with them from now."""
        self._started()
        self.load_filters()

    def set_one_way_mode(self) -> None:
        try:
            self._rest.change_position_mode(dual_side=False)
        except OrderRejected as e:
            if e.code != NO_NEED_TO_CHANGE_POSITION_SIDE:  # already one-way
                raise

    # --- ExchangePort -----------------------------------------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> OrderState:
        """A refusal for the symbol's rules (`FILTER_REJECTIONS`) is only raised: whoever owns the rules reads them
        again (`refresh_filters`; the execution engine does, at its next step)."""
        return self._orders.place(request)

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        return self._orders.cancel(symbol, client_order_id)

    def get_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """None when Binance does not know the order; NotFoundYet while its request's outcome was lost less than
        `lookup_grace_s` ago (`BinanceOrders.get`)."""
        return self._orders.get(symbol, client_order_id)

    def lookup(self, symbol: str, client_order_id: str) -> tuple[OrderState | None, int | None]:
        """The order's state and, for a triggered conditional order, the regular order it became."""
        return self._orders.lookup(symbol, client_order_id)

    def order_fills(self, symbol: str, client_order_id: str) -> tuple[Fill, ...]:
        """The order's trades through `userTrades`, under our client id: for a conditional order, those of
        the regular order it became when it triggered."""
        return self._orders.fills(symbol, client_order_id)

    def open_orders(self, symbol: str | None = None) -> tuple[OrderState, ...]:
        return self._orders.open_orders(symbol)

    def positions(self) -> tuple[ExchangePosition, ...]:
        self._started()
        rows = self._rest.position_risk()
        found = (payloads.position_from_rest(row) for row in rows if row.get("positionSide", "BOTH") == "BOTH")
        return tuple(sorted((p for p in found if p is not None), key=lambda p: p.symbol))

    def balance(self) -> Balance:
        self._started()
        return payloads.balance_from_rest(self._rest.balances())

    def symbol_filters(self, symbol: str) -> SymbolFilters:
        self._started()
        if not self._filters:
            self.load_filters()
        try:
            return self._filters[symbol]
        except KeyError:
            raise UnknownSymbol(symbol) from None

    def drain_events(self) -> tuple[ExchangeEvent, ...]:
        return self.translator.drain()

    def pending_events(self) -> tuple[ExchangeEvent, ...]:
        """What `drain_events` would return, left queued."""
        return self.translator.pending()

    def reports_every_change(self) -> bool:
        """False: an update can be lost (a stream gap), or say too little (a close by hand): reconcile periodically."""
        return False

    def blocked(self) -> str:
        """Why nothing may be sent now (a rate limit or an IP ban in force), or "" when requests may go."""
        return self._rest.blocked()

    def health(self) -> str:
        """ "" when the user-data stream is connected and heard from within `stream_silence_s` (or the port runs
        without one: a dry run); else why not ("user-data stream disconnected since ...", "... silent for 95 s")."""
        if self._deferred_start is not None:
            return "user-data stream not started: waiting for the exchange's block to end"
        if not self._stream_wanted:
            return ""
        if self._stream is None:
            return "user-data stream closed"
        return self._stream.health()

    def on_candle(self, candle: Candle) -> None:
        """Nothing to do: Binance matches its orders by itself and reports them on the user-data stream."""

    def configured_spread_bps(self, symbol: str) -> float | None:
        """None: Binance's spread is its book's, read by the market feed from the book-ticker stream."""
        return None

    def to_state(self) -> dict[str, Any] | None:
        """None: the exchange keeps the account; nothing of it is saved here."""
        return None

    def revision(self) -> int:
        """Constant: nothing of the account is saved here."""
        return 0

    # --- the user-data stream's REST side ---------------------------------------------------------------------------

    def resync(self, since_ms: int | None, until_ms: int) -> None:
        """After a stream gap (server ms: when the previous session last heard anything, when the new one opened):
        order states and the gap's fills through REST, queued like stream events (`resync.py`)."""
        start = (since_ms if since_ms is not None else until_ms) - self._resync_margin_ms
        symbols = set(self._symbols) | self.translator.tracked_symbols()
        Resync(self._rest, self.lookup, self.translator).run(symbols, start, until_ms + self._resync_margin_ms)
