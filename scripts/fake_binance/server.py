"""The fake Binance USD-M server: aiohttp REST + WebSocket on 127.0.0.1, in a background thread.

    server = FakeBinance(api_key="k", api_secret="s").start()
    client.FUTURES_URL = server.futures_url
    ...
    server.stop()

Here: the server's lifecycle, the test controls, and each REST request's way
through authentication (`auth.py`, Binance's), the injected faults and its route
(`routes.py`). The matching engine is `engine.py` (with `algos.py` and
`market.py`), the WebSocket side `streams.py`, faults `faults.py` (and `late.py`,
`fills.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from scripts.fake_binance.auth import authenticate
from scripts.fake_binance.engine import Engine
from scripts.fake_binance.errors import ApiError
from scripts.fake_binance.faults import Faults, Rule
from scripts.fake_binance.late import LateOrder
from scripts.fake_binance.routes import Handler, Routes
from scripts.fake_binance.streams import StreamHub

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
EXCHANGE_INFO = SHARED_DATA / "binance" / "rest" / "futures_market_exchange_info.json"


class FakeBinance:
    def __init__(
        self,
        *,
        api_key: str = "fake-api-key",
        api_secret: str = "fake-api-secret",
        balance: Decimal = Decimal("10000"),
        exchange_info_path: Path = EXCHANGE_INFO,
    ) -> None:
        self.api_key, self._secret = api_key, api_secret
        self.faults = Faults(self)
        self.engine = Engine(json.loads(exchange_info_path.read_text()), clock=self.now_ms, balance=balance)
        self.port = 0
        self.requests: list[tuple[str, str]] = []  # (method, path) of every REST request, in order
        self.calls: list[tuple[str, str, dict[str, str]]] = []  # the same with their parameters (unsigned)
        self.callers: list[int] = []  # the client's port of each of `calls`: which process sent it (its sockets)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._release = asyncio.Event()  # set at stop: held (timed-out) responses end at once
        self.streams = StreamHub(self.faults, self.now_ms)  # the WebSocket side
        self._requests_cv = threading.Condition()
        self.routes = Routes(self.engine, self.streams, self.now_ms)

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self, port: int = 0) -> FakeBinance:
        self._thread = threading.Thread(target=self._run, args=(port,), name="fake-binance", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake Binance server did not start")
        return self

    def _run(self, port: int) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._release = asyncio.Event()
        loop.run_until_complete(self._serve(port))
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._shutdown())
        loop.close()

    async def _serve(self, port: int) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_route("*", "/{tail:(fapi|api)/.*}", self._rest)
        for path in (
            "/ws/{name}",
            "/market/ws/{name}",
            "/public/ws/{name}",
            "/private/ws",
            "/stream",
            "/market/stream",
            "/ws",
        ):
            app.router.add_get(path, self.streams.websocket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, shutdown_timeout=0.5)
        await site.start()
        # aiohttp keeps the listening server private; port 0 asks the kernel for a free port, read back here.
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # a started site has one

    async def _shutdown(self) -> None:
        self._release.set()
        await self.streams.close_all()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FakeBinance:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def futures_url(self) -> str:
        return f"{self.base_url}/fapi"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.faults.clock_skew_ms

    # --- test controls -----------------------------------------------------------------------------

    def set_price(self, symbol: str, price: Decimal | str) -> None:
        with self.engine.lock:
            self.engine.set_price(symbol, Decimal(price))
        self._schedule_flush()

    def push_candle(
        self,
        symbol: str,
        *,
        open_time: int,
        open: Decimal | str,
        high: Decimal | str,
        low: Decimal | str,
        close: Decimal | str,
        volume: Decimal | str = "1",
        interval: str = "1m",
    ) -> None:
        with self.engine.lock:
            self.engine.push_candle(
                symbol, interval, open_time, Decimal(open), Decimal(high), Decimal(low), Decimal(close), Decimal(volume)
            )
        self._schedule_flush()

    def set_book(
        self,
        symbol: str,
        bid: Decimal | str,
        ask: Decimal | str,
        *,
        bid_qty: Decimal | str = "1",
        ask_qty: Decimal | str = "1",
    ) -> None:
        """The best bid and ask change: a book ticker on the market streams."""
        with self.engine.lock:
            self.engine.set_book(symbol, Decimal(bid), Decimal(ask), Decimal(bid_qty), Decimal(ask_qty))
        self._schedule_flush()

    def outside_close(self, symbol: str, price: Decimal | None, kind: str, quantity: Decimal | None = None) -> None:
        with self.engine.lock:
            if price is not None:
                self.engine.prices[symbol] = Decimal(price)
            self.engine.close_outside(symbol, kind, quantity)
        self._schedule_flush()

    def change_filters(self, symbol: str, **filters: Decimal) -> None:
        with self.engine.lock:
            self.engine.change_filters(symbol, **filters)

    def client_order_id_counts(self) -> dict[str, int]:
        """How many times each client order id (regular or algo) reached the server."""
        with self.engine.lock:
            return dict(self.engine.cid_counts)

    def duplicate_client_order_ids(self) -> dict[str, int]:
        return {cid: n for cid, n in self.client_order_id_counts().items() if n > 1}

    def wait_user_stream_connects(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until `count` user-data connections have been accepted since start."""
        hub = self.streams
        with hub.connects_cv:
            return hub.connects_cv.wait_for(lambda: hub.user_connects >= count, timeout)

    def wait_for_request(self, method: str, path: str, *, after: int = 0, timeout: float = 5.0) -> bool:
        """Wait until a `method path` request arrives whose index in `requests` is >= `after`."""
        with self._requests_cv:
            return self._requests_cv.wait_for(lambda: (method, path) in self.requests[after:], timeout)

    @property
    def user_stream_connects(self) -> int:
        return self.streams.user_connects

    def close_user_streams(self) -> None:
        self._call(self.streams.close_user_conns)

    def expire_listen_keys(self) -> None:
        self._call(self.streams.expire_keys)

    def _call(self, fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(fn(), self._loop).result(5)

    # --- event broadcast -------------------------------------------------------------------------------

    def _schedule_flush(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        """Runs on the loop only, so events reach every connection in the order they were made."""
        with self.engine.lock:
            user, self.engine.user_events = self.engine.user_events, []
            market, self.engine.market_events = self.engine.market_events, []
        self.streams.broadcast(user, market)

    def send_frame(self, frame: str | dict[str, Any], *, user: bool) -> None:
        """One frame, as given (a dict as JSON), to every user-data (or every market) connection."""
        text = frame if isinstance(frame, str) else json.dumps(frame)
        self._call(lambda: self.streams.send_frame(text, user=user))

    # --- REST ----------------------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as e:
            return web.json_response({"code": e.code, "msg": e.msg}, status=e.status, headers=e.headers)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method, request.path
        with self._requests_cv:
            self.requests.append((method, path))
            self._requests_cv.notify_all()
        route = self.routes.get(method, path)
        if route is None:
            raise ApiError(404, -5000, f"Path {path}, Method {method} is invalid")
        security, handler = route
        body = (await request.text()) if method != "GET" else ""
        params = dict(parse_qsl(request.query_string, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        with self._requests_cv:
            self.calls.append((method, path, {k: v for k, v in params.items() if k != "signature"}))
            peer = request.transport.get_extra_info("peername") if request.transport is not None else None
            self.callers.append(int(peer[1]) if peer else 0)
        authenticate(
            request.headers.get("X-MBX-APIKEY"),
            security,
            query=request.query_string,
            body=body,
            params=params,
            api_key=self.api_key,
            secret=self._secret,
            now_ms=self.now_ms(),
        )
        banned = self.faults.banned(method, path, self.now_ms())
        if banned is not None:
            raise banned
        self._late_orders(method, path, params)
        rules = self.faults.take(method, path)
        hold = sum(r.hold_s for r in rules)
        error = next((r for r in rules if r.status), None)
        if error is not None and error.status == 418:
            self.faults.ban_begins(error, self.now_ms())
        if error is not None and error.late is not None:
            self._defer(path, params, error)
        elif error is None or error.execute:
            result = self._execute(handler, params)
        if hold:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), hold)
        if error is not None:
            raise ApiError(error.status, error.code, error.msg, error.headers)
        return web.json_response(result)

    def _defer(self, path: str, params: dict[str, str], rule: Rule) -> None:
        assert rule.late is not None
        lookups, seconds = rule.late
        appear_at = None if seconds is None else self.now_ms() + int(seconds * 1000)
        self.faults.late.add(LateOrder(path=path, params=dict(params), lookups=lookups, appear_at=appear_at))

    def _late_orders(self, method: str, path: str, params: dict[str, str]) -> None:
        """Late orders whose time has come appear; a lookup of one still hidden answers -2013. On the loop."""
        appearing = self.faults.late.due(self.now_ms())
        hidden = False
        if method == "GET":
            hidden, found = self.faults.late.lookup(path, params)
            appearing += [found] if found is not None else []
        if appearing:
            self._appear(appearing)
            self._flush()
        if hidden:
            raise ApiError(400, -2013, "Order does not exist.")

    def _appear(self, orders: list[LateOrder]) -> None:
        for order in orders:
            route = self.routes.get("POST", order.path)
            assert route is not None  # a late order was sent to a route that exists
            _, handler = route
            # Refused now (the margin, a trigger already passed): it never appears.
            with self.engine.lock, contextlib.suppress(ApiError):
                handler(order.params)

    def release_late_orders(self) -> list[str]:
        released = self.faults.late.release()
        self._appear(released)
        self._schedule_flush()
        return [o.client_id for o in released]

    def _execute(self, handler: Handler, params: dict[str, str]) -> Any:
        try:
            with self.engine.lock:
                return handler(params)
        finally:
            self._flush()
