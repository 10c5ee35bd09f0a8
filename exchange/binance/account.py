"""The Binance USD-M futures exchange port, through python-binance 1.0.37's sync `Client`.

One account, one-way position mode, USDT-margined. Market orders go to
`/fapi/v1/order`; reduce-only STOP_MARKET / TAKE_PROFIT_MARKET go to the algo
service (`/fapi/v1/algoOrder`, where python-binance routes them), with our client
order id as `clientAlgoId`. Fills and order updates come from the user-data
stream (`binance_stream.py`), drained with `drain_events()`.

Failure semantics (the port's, see `port.py`):

* -1021 (timestamp outside recvWindow): the clock offset is taken again from
  the server's time and the request is retried once; it was refused, so the
  retry cannot double it.
* HTTP 429 / -1003 / -1015: `RateLimited(Retry-After)`; HTTP 418: `RateLimited`
  until the ban ends. Until then nothing is sent: every call raises at once.
* Timeouts, connection errors, 5xx, -1006 / -1007: `OutcomeUnknown`. Never
  resent here; the caller looks the order up by client id.
* Anything else: `OrderRejected(code, message)`, -2011 / -2013 included (on
  `get_order`, "does not exist" is None instead).

The API key and secret live only inside the python-binance client: no message,
log line or repr of this module includes them.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException, BinanceRequestException

from exchange.binance import convert
from exchange.binance.events import parse_market_event, parse_user_event
from exchange.binance.resync import resync_orders
from exchange.binance.stream import EventTranslator, UserStream
from exchange.port import (
    Balance, ExchangeError, ExchangeEvent, ExchangePosition, Fill, OrderRejected, OrderRequest, OrderState, OrderType,
    OutcomeUnknown, RateLimited, RejectCode, UnknownSymbol,
)
from exchange.market import SymbolFilters

__all__ = ["BinanceExchange", "parse_market_event", "parse_user_event"]

log = logging.getLogger(__name__)

MAINNET_FUTURES_URL = "https://fapi.binance.com"
TESTNET_FUTURES_URL = "https://testnet.binancefuture.com"
MAINNET_WS_URL = "wss://fstream.binance.com"
TESTNET_WS_URL = "wss://stream.binancefuture.com"
NO_NEED_TO_CHANGE_POSITION_SIDE = -4059
_UNKNOWN_OUTCOME_CODES = (-1000, -1001, -1006, -1007)
_RATE_LIMIT_CODES = (-1003, -1015)
_BANNED_UNTIL = re.compile(r"banned until (\d+)")
_DEFAULT_BACKOFF_S = 60.0


def _text(value: Decimal) -> str:
    return format(value, "f")  # never an exponent: Binance refuses "1E+1"


class BinanceExchange:
    """Implements `ExchangePort` against Binance USD-M futures (or a server that speaks its API)."""

    def __init__(
        self, *, api_key: str, api_secret: str, base_url: str | None = None, ws_url: str | None = None,
        testnet: bool = True, symbols: Sequence[str] = (), leverage: int = 5, timeout_s: float = 10.0,
        recv_window_ms: int = 5000, working_type: str = "CONTRACT_PRICE", user_stream: bool = True,
        keepalive_s: float = 30 * 60, reconnect_delay_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic, wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        if base_url is None:
            base_url = TESTNET_FUTURES_URL if testnet else MAINNET_FUTURES_URL
            ws_url = ws_url or (TESTNET_WS_URL if testnet else MAINNET_WS_URL)
        elif ws_url is None:
            ws_url = "ws" + base_url.rstrip("/").removeprefix("http")
        self.base_url, self.ws_url = base_url.rstrip("/"), ws_url
        # testnet=False on the Client: its testnet flag would override FUTURES_URL.
        self._client = Client(api_key, api_secret, ping=False, requests_params={"timeout": timeout_s})
        self._client.FUTURES_URL = self.base_url + "/fapi"
        self._client.REQUEST_RECVWINDOW = recv_window_ms
        self._secrets = tuple(s for s in (api_key, api_secret) if s)
        self._symbols, self._leverage, self._working_type = tuple(symbols), leverage, working_type
        self._monotonic, self._wall_ms = monotonic, wall_ms
        self._filters: dict[str, SymbolFilters] = {}
        self._blocked_until = 0.0  # monotonic seconds: rate limit or ban in force until then
        self._blocked_why = ""  # and why, with the time it ends (UTC), for the gate's reason
        self._block_lock = threading.Lock()
        self.translator = EventTranslator()
        self._stream: UserStream | None = None
        self._stream_enabled, self._keepalive_s, self._reconnect_delay_s = user_stream, keepalive_s, reconnect_delay_s
        self._gap_started_ms: int | None = None

    def __repr__(self) -> str:
        return f"BinanceExchange(base_url={self.base_url!r})"

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self, *, connect_timeout_s: float = 10.0, configure: bool = True) -> BinanceExchange:
        """Clock offset, trading rules, one-way mode and leverage, then the user-data stream.

        `configure=False` (a dry run): the clock offset and trading rules only; nothing that changes the
        account (position mode, leverage) and no user-data stream, whose listen key is a POST too.
        """
        self.sync_time()
        self.load_filters()
        if not configure:
            return self
        self.set_one_way_mode()
        for symbol in self._symbols:
            self._call("leverage", self._client.futures_change_leverage, symbol=symbol, leverage=self._leverage)
        if self._stream_enabled:
            self._stream = UserStream(
                ws_url=self.ws_url, translator=self.translator, new_listen_key=self._new_listen_key,
                keepalive=self._keepalive_listen_key, resync=self.resync, monotonic=self._monotonic,
                keepalive_s=self._keepalive_s, reconnect_delay_s=self._reconnect_delay_s,
            )
            self._stream.start()
            if not self._stream.connected.wait(connect_timeout_s):
                self.close()
                raise ExchangeError("the user-data stream did not connect")
        return self

    def close(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream = None
        self._client.session.close()

    @property
    def stream(self) -> UserStream | None:
        return self._stream

    def sync_time(self) -> int:
        """Set the client's timestamp offset from the server's clock (midpoint of the round trip)."""
        before = self._wall_ms()
        server = int(self._call("time", self._client.futures_time, _retry=False)["serverTime"])
        after = self._wall_ms()
        self._client.timestamp_offset = server - (before + after) // 2
        return self._client.timestamp_offset

    def load_filters(self) -> dict[str, SymbolFilters]:
        self._filters = convert.filters_from_exchange_info(self._call("exchangeInfo", self._client.futures_exchange_info))
        return dict(self._filters)

    def set_one_way_mode(self) -> None:
        try:
            self._call("positionSide", self._client.futures_change_position_mode, dualSidePosition="false")
        except OrderRejected as e:
            if e.code != NO_NEED_TO_CHANGE_POSITION_SIDE:  # already one-way
                raise

    # --- ExchangePort --------------------------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> OrderState:
        params: dict[str, Any] = {
            "symbol": request.symbol, "side": request.side.value, "type": request.type.value,
            "quantity": _text(request.quantity),
        }
        if request.type is OrderType.MARKET:
            params.update(newClientOrderId=request.client_order_id, newOrderRespType="RESULT")
            if request.reduce_only:
                params["reduceOnly"] = "true"
            state = convert.order_from_rest(self._call("order", self._client.futures_create_order, **params))
        else:
            if request.trigger_price is None:
                raise OrderRejected(RejectCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
                                    "Mandatory parameter 'stopPrice' was not sent.")
            # python-binance sends these to /fapi/v1/algoOrder, renaming stopPrice to triggerPrice.
            params.update(clientAlgoId=request.client_order_id, stopPrice=_text(request.trigger_price),
                          reduceOnly="true" if request.reduce_only else "false", workingType=self._working_type)
            state = convert.algo_from_rest(self._call("algoOrder", self._client.futures_create_order, **params), None,
                                           canceled_by_us=False)
        if state is None:
            raise OutcomeUnknown("the exchange answered with an order the port cannot read")
        self.translator.register(state)
        return state

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        kind = self.translator.kind(client_order_id)
        if kind != "algo":
            try:
                body = self._call("order", self._client.futures_cancel_order, symbol=symbol,
                                  origClientOrderId=client_order_id)
                state = convert.order_from_rest(body)
                if state is None:
                    raise OrderRejected(RejectCode.UNKNOWN_ORDER, "Unknown order sent.")
                return state
            except OrderRejected as e:
                if kind == "regular" or e.code != RejectCode.UNKNOWN_ORDER:
                    raise
        # Marked before sending: the stream's CANCELED may arrive before the answer.
        self.translator.mark_canceling(client_order_id)
        try:
            self._call("algoOrder", self._client.futures_cancel_algo_order, symbol=symbol,
                       clientAlgoId=client_order_id)
        except ExchangeError as e:
            if isinstance(e, OrderRejected):
                self.translator.mark_canceling(client_order_id, False)
            raise
        state, _ = self._lookup_algo(symbol, client_order_id)
        if state is None:
            raise OutcomeUnknown("the canceled order could not be read back")
        return state

    def get_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        return self.lookup(symbol, client_order_id)[0]

    def lookup(self, symbol: str, client_order_id: str) -> tuple[OrderState | None, int | None]:
        """The order's state and, for a triggered conditional order, the regular order it became."""
        kind = self.translator.kind(client_order_id)
        if kind != "algo":
            try:
                body = self._call("order", self._client.futures_get_order, symbol=symbol,
                                  origClientOrderId=client_order_id)
                return convert.order_from_rest(body), None
            except OrderRejected as e:
                if kind == "regular" or e.code not in (RejectCode.NO_SUCH_ORDER, RejectCode.UNKNOWN_ORDER):
                    raise
        return self._lookup_algo(symbol, client_order_id)

    def _lookup_algo(self, symbol: str, client_order_id: str) -> tuple[OrderState | None, int | None]:
        try:
            algo = self._call("algoOrder", self._client.futures_get_algo_order, symbol=symbol,
                              clientAlgoId=client_order_id)
        except OrderRejected as e:
            if e.code in (RejectCode.NO_SUCH_ORDER, RejectCode.UNKNOWN_ORDER):
                return None, None
            raise
        actual_id = int(algo["actualOrderId"]) if algo.get("actualOrderId") else None
        actual = None
        if actual_id is not None:
            self.translator.link_actual(actual_id, client_order_id)
            if algo.get("algoStatus") not in ("TRIGGERING", "TRIGGERED"):
                actual = self._call("order", self._client.futures_get_order, symbol=symbol, orderId=actual_id)
        canceled = self.translator.canceled_by_us(client_order_id)
        return convert.algo_from_rest(algo, actual, canceled_by_us=canceled), actual_id

    def order_fills(self, symbol: str, client_order_id: str) -> tuple[Fill, ...]:
        """The order's trades through `userTrades`, under our client id: for a conditional order, those of
        the regular order it became when it triggered."""
        state, actual_id = self.lookup(symbol, client_order_id)
        if state is None:
            return ()
        if state.type is not OrderType.MARKET and actual_id is None:
            return ()  # a conditional order not triggered: no trades
        trades = self.user_trades(symbol, orderId=actual_id if actual_id is not None else state.exchange_order_id)
        return tuple(sorted((convert.fill_from_rest_trade(t, client_order_id) for t in trades),
                            key=lambda f: (f.at, f.trade_id)))

    def open_orders(self, symbol: str | None = None) -> tuple[OrderState, ...]:
        params = {} if symbol is None else {"symbol": symbol}
        regular = self._call("openOrders", self._client.futures_get_open_orders, **params)
        algos = self._call("openAlgoOrders", self._client.futures_get_open_algo_orders, **params)
        states = [convert.order_from_rest(d) for d in regular]
        states += [convert.algo_from_rest(d, None, canceled_by_us=False) for d in algos]
        return tuple(sorted((s for s in states if s is not None), key=lambda s: (s.updated_at, s.exchange_order_id)))

    def positions(self) -> tuple[ExchangePosition, ...]:
        rows = self._call("positionRisk", self._client.futures_position_information)
        found = (convert.position_from_rest(row) for row in rows if row.get("positionSide", "BOTH") == "BOTH")
        return tuple(sorted((p for p in found if p is not None), key=lambda p: p.symbol))

    def balance(self) -> Balance:
        return convert.balance_from_rest(self._call("balance", self._client.futures_account_balance))

    def symbol_filters(self, symbol: str) -> SymbolFilters:
        if not self._filters:
            self.load_filters()
        try:
            return self._filters[symbol]
        except KeyError:
            raise UnknownSymbol(symbol) from None

    def drain_events(self) -> tuple[ExchangeEvent, ...]:
        return self.translator.drain()

    def wait_for_events(self, timeout: float) -> bool:
        """Block until events are queued (True) or `timeout` seconds pass (False)."""
        return self.translator.wait(timeout)

    # --- the user-data stream's REST side ----------------------------------------------------------

    def _new_listen_key(self) -> str:
        self._gap_started_ms = self._gap_started_ms or (self._wall_ms() + self._client.timestamp_offset)
        return str(self._call("listenKey", self._client.futures_stream_get_listen_key))

    def _keepalive_listen_key(self, key: str) -> None:
        self._call("listenKey", self._client.futures_stream_keepalive, listenKey=key)

    def resync(self) -> None:
        """After a stream gap: order states and fills through REST, queued like stream events."""
        since = (self._gap_started_ms or self._wall_ms()) - 60_000
        symbols = set(self._symbols) | self.translator.tracked_symbols()
        resync_orders(self, self.translator, symbols, since)
        self._gap_started_ms = None

    def user_trades(self, symbol: str, **params: Any) -> list[dict[str, Any]]:
        return list(self._call("userTrades", self._client.futures_account_trades, symbol=symbol, **params))

    def order_by_id(self, symbol: str, order_id: int) -> dict[str, Any]:
        return dict(self._call("order", self._client.futures_get_order, symbol=symbol, orderId=order_id))

    # --- calls and their failures ------------------------------------------------------------------------

    def _call(self, label: str, fn: Callable[..., Any], *, _retry: bool = True, **params: Any) -> Any:
        self._check_blocked()
        for attempt in (0, 1):
            try:
                return fn(**params)
            except BinanceAPIException as e:
                if e.code == -1021 and _retry and attempt == 0:
                    self.sync_time()  # the request was refused: resending it cannot double it
                    continue
                raise self._map_api_error(label, e) from None
            except (requests.Timeout, requests.ConnectionError) as e:
                raise OutcomeUnknown(f"{label}: {type(e).__name__}, outcome unknown") from None
            except BinanceRequestException:
                raise OutcomeUnknown(f"{label}: unreadable answer, outcome unknown") from None
        raise AssertionError("unreachable")

    def _check_blocked(self) -> None:
        with self._block_lock:
            remaining = self._blocked_until - self._monotonic()
        if remaining > 0:
            raise RateLimited(remaining)

    def _block(self, seconds: float, why: str) -> None:
        until_ms = self._wall_ms() + int(seconds * 1000)
        with self._block_lock:
            if self._monotonic() + seconds > self._blocked_until:
                self._blocked_until = self._monotonic() + seconds
                self._blocked_why = f"{why}: nothing is sent until {time.strftime('%H:%M:%S', time.gmtime(until_ms / 1000))} UTC"

    def blocked(self) -> str:
        """Why nothing may be sent now (a rate limit or an IP ban in force), or "" when requests may go."""
        with self._block_lock:
            return self._blocked_why if self._blocked_until > self._monotonic() else ""

    def _map_api_error(self, label: str, e: BinanceAPIException) -> ExchangeError:
        status, code = int(e.status_code), int(e.code or 0)
        message = self._scrub(str(e.message or ""))
        headers = getattr(e.response, "headers", None) or {}
        if status == 418:
            wait = _first(_retry_after(headers), self._ban_seconds(message), _DEFAULT_BACKOFF_S)
            self._block(wait, "IP banned by the exchange (HTTP 418)")
            log.warning("%s: IP banned by the exchange for %.0fs", label, wait)
            return RateLimited(wait)
        if status == 429 or code in _RATE_LIMIT_CODES:
            wait = _first(_retry_after(headers), _DEFAULT_BACKOFF_S)
            self._block(wait, f"rate limited by the exchange (HTTP {status}, {code})")
            return RateLimited(wait)
        if status >= 500 or code in _UNKNOWN_OUTCOME_CODES:
            return OutcomeUnknown(f"{label}: HTTP {status} {code}: {message}")
        return OrderRejected(code, message)

    def _ban_seconds(self, message: str) -> float | None:
        match = _BANNED_UNTIL.search(message)
        if match is None:
            return None
        now_ms = self._wall_ms() + self._client.timestamp_offset
        return max(1.0, (int(match.group(1)) - now_ms) / 1000)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _first(*values: float | None) -> float:
    """The first value given (0 included: "retry now" is an answer); the last is the default."""
    return next(v for v in values if v is not None)
