"""The Binance user-data stream: a thread that turns WebSocket events into the port's events.

`EventTranslator` holds what the stream alone cannot say: which client ids are
conditional orders, which regular order a triggered conditional order became,
which cancels were ours, and which trades were already reported (fills are
deduplicated by trade id, because a resync through REST and the stream may both
report one).

`UserStream` keeps one connection: it takes a listen key (POST), connects,
keeps the key alive (PUT) and, when the key expires, the keepalive is refused
or the socket drops, takes a key again and reconnects. Every connection after
the first is a gap: before reading the new connection, the `resync` callback
reconciles orders and fills through REST. The socket is opened first, so
nothing that happens during the resync is lost; it is read afterwards.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import connect

from exchange.binance.convert import fill_from_update, order_from_algo_update, order_from_update
from exchange.binance.events import AlgoUpdate, ListenKeyExpired, OrderTradeUpdate, UserEvent, parse_user_event
from exchange.port import ExchangeError, ExchangeEvent, Fill, OrderState, OrderType, RateLimited

log = logging.getLogger(__name__)
_CONDITIONAL = (OrderType.STOP_MARKET.value, OrderType.TAKE_PROFIT_MARKET.value)
_SEEN_TRADES_KEPT = 100_000


class EventTranslator:
    """Thread-safe: the stream thread translates while the caller's thread registers orders."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._events: list[ExchangeEvent] = []
        self._algo_ids: set[str] = set()  # client ids of conditional orders we placed
        self._symbols: dict[str, str] = {}  # client id -> symbol, for every order we placed
        self._last: dict[str, OrderState] = {}  # client id -> latest state seen
        self._actual: dict[int, str] = {}  # regular order id of a triggered algo -> its client algo id
        self._pending: dict[int, list[Fill]] = {}  # fills of a triggered order seen before its ALGO_UPDATE
        self._canceled: set[str] = set()
        self._seen: set[int] = set()
        self._seen_order: deque[int] = deque()

    # --- registration (caller's thread) -----------------------------------------------------------

    def register(self, state: OrderState) -> None:
        with self._lock:
            self._symbols[state.client_order_id] = state.symbol
            if state.type is not OrderType.MARKET:
                self._algo_ids.add(state.client_order_id)
            self._last.setdefault(state.client_order_id, state)

    def kind(self, client_order_id: str) -> str | None:
        """"algo", "regular", or None when this process never placed it."""
        with self._lock:
            if client_order_id in self._algo_ids:
                return "algo"
            return "regular" if client_order_id in self._symbols else None

    def mark_canceling(self, client_order_id: str, canceling: bool = True) -> None:
        with self._lock:
            (self._canceled.add if canceling else self._canceled.discard)(client_order_id)

    def canceled_by_us(self, client_order_id: str) -> bool:
        with self._lock:
            return client_order_id in self._canceled

    def link_actual(self, actual_order_id: int, client_algo_id: str) -> None:
        with self._lock:
            self._actual[actual_order_id] = client_algo_id

    def client_id_for_order(self, order_id: int) -> str | None:
        with self._lock:
            if order_id in self._actual:
                return self._actual[order_id]
            return next((s.client_order_id for s in self._last.values()
                         if s.exchange_order_id == order_id and s.type is OrderType.MARKET), None)

    def open_tracked(self) -> list[OrderState]:
        """Orders we placed whose last known state is not final: what a resync must look up."""
        with self._lock:
            return [s for s in self._last.values() if not s.status.is_final]

    def tracked_symbols(self) -> set[str]:
        with self._lock:
            return set(self._symbols.values())

    # --- events ------------------------------------------------------------------------------------

    def push(self, events: list[ExchangeEvent]) -> None:
        """Queue events for `drain`, dropping fills already reported (by trade id)."""
        with self._cond:
            for event in events:
                if isinstance(event, Fill):
                    if event.trade_id in self._seen:
                        continue
                    self._remember_trade(event.trade_id)
                else:
                    self._last[event.client_order_id] = event
                self._events.append(event)
            if events:
                self._cond.notify_all()

    def _remember_trade(self, trade_id: int) -> None:
        self._seen.add(trade_id)
        self._seen_order.append(trade_id)
        if len(self._seen_order) > _SEEN_TRADES_KEPT:
            self._seen.discard(self._seen_order.popleft())

    def seen_trade(self, trade_id: int) -> bool:
        with self._lock:
            return trade_id in self._seen

    def drain(self) -> tuple[ExchangeEvent, ...]:
        with self._lock:
            events, self._events = tuple(self._events), []
            return events

    def wait(self, timeout: float) -> bool:
        """True as soon as events are queued; False after `timeout` seconds without any."""
        with self._cond:
            return self._cond.wait_for(lambda: bool(self._events), timeout)

    def translate(self, event: UserEvent) -> None:
        if isinstance(event, OrderTradeUpdate):
            self.push(self._from_order_update(event))
        elif isinstance(event, AlgoUpdate):
            self.push(self._from_algo_update(event))

    def _from_order_update(self, u: OrderTradeUpdate) -> list[ExchangeEvent]:
        with self._lock:
            algo_cid = self._actual.get(u.order_id)
            if algo_cid is None and u.client_order_id in self._algo_ids:
                algo_cid = u.client_order_id  # an exchange that reuses the algo's client id
        if algo_cid is not None:
            fill = fill_from_update(u, algo_cid)
            return [fill] if fill else []  # the algo's own state comes with ALGO_UPDATE FINISHED
        if u.original_type in _CONDITIONAL and u.order_type == OrderType.MARKET.value:
            # A triggered conditional order reported before its ALGO_UPDATE names it: hold its fill.
            fill = fill_from_update(u)
            if fill is not None:
                with self._lock:
                    self._pending.setdefault(u.order_id, []).append(fill)
            return []
        out: list[ExchangeEvent] = []
        fill = fill_from_update(u)
        if fill is not None:
            out.append(fill)
        state = order_from_update(u)
        if state is not None:
            out.append(state)
        return out

    def _from_algo_update(self, u: AlgoUpdate) -> list[ExchangeEvent]:
        out: list[ExchangeEvent] = []
        if u.actual_order_id is not None:
            with self._lock:
                self._actual[u.actual_order_id] = u.client_algo_id
                pending = self._pending.pop(u.actual_order_id, [])
            out.extend(replace(f, client_order_id=u.client_algo_id) for f in pending)
        state = order_from_algo_update(u, canceled_by_us=self.canceled_by_us(u.client_algo_id))
        if state is not None:
            out.append(state)
        return out


class UserStream(threading.Thread):
    def __init__(
        self, *, ws_url: str, translator: EventTranslator, new_listen_key: Callable[[], str],
        keepalive: Callable[[str], None], resync: Callable[[], None], monotonic: Callable[[], float],
        keepalive_s: float = 30 * 60, reconnect_delay_s: float = 1.0, open_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(name="binance-user-stream", daemon=True)
        self._ws_url = ws_url.rstrip("/") + "/ws/"
        self._translator = translator
        self._new_listen_key, self._keepalive, self._resync = new_listen_key, keepalive, resync
        self._monotonic = monotonic
        self._keepalive_s, self._reconnect_delay_s, self._open_timeout_s = keepalive_s, reconnect_delay_s, open_timeout_s
        self._halt = threading.Event()
        self.connected = threading.Event()
        self.connections = 0  # how many times a connection was made (the first is not a gap)
        self.resyncs = 0
        self._ws: Any = None
        self._last_keepalive = 0.0

    def stop(self) -> None:
        self._halt.set()
        ws = self._ws
        if ws is not None:
            ws.close()
        self.join(10)

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self._session()
            except RateLimited as e:
                # Nothing may be sent until the limit or ban ends; look again at least every 30 s.
                log.warning("user stream: rate limited for %.0fs", e.retry_after_s)
                self.connected.clear()
                self._halt.wait(min(max(e.retry_after_s, self._reconnect_delay_s), 30.0))
                continue
            except (ExchangeError, OSError, InvalidHandshake, InvalidURI, TimeoutError) as e:
                # The key and secret are never in these: the URL holds only the listen key.
                log.warning("user stream: %s", type(e).__name__)
            self.connected.clear()
            self._halt.wait(self._reconnect_delay_s)

    def _session(self) -> None:
        key = self._new_listen_key()
        with connect(self._ws_url + key, open_timeout=self._open_timeout_s, close_timeout=1) as ws:
            self._ws = ws
            try:
                if self.connections > 0:
                    self._resync()  # before trusting the stream again
                    self.resyncs += 1
                self.connections += 1
                self._last_keepalive = self._monotonic()  # before `connected`: a waiter may move the clock
                self.connected.set()
                self._read(ws, key)
            finally:
                self._ws = None

    def _read(self, ws: Any, key: str) -> None:
        while not self._halt.is_set():
            if self._monotonic() - self._last_keepalive >= self._keepalive_s:
                self._keepalive(key)  # raises on -1125: a new key and a resync follow
                self._last_keepalive = self._monotonic()
            try:
                text = ws.recv(timeout=0.25)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            event = parse_user_event(json.loads(text))
            if isinstance(event, ListenKeyExpired):
                return
            self._translator.translate(event)
