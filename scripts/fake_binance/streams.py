"""The fake's WebSocket side: listen keys, user-data and market connections, and what is sent on them.

Runs on the server's event loop: `broadcast` and the coroutines are called there only, so events reach every
connection in the order they were made. User-data connections are `/ws/<listenKey>`, `/private/ws?listenKey=`
or a combined stream naming the key; market ones `/market/ws/<stream>` or `/market/stream?streams=...`.

Faults it honours (`faults.py`): refused user-data connections (`user_stream_blocked`) and muted connections
(`user_muted`, `market_muted`: open, but their frames are lost and their pings unanswered).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from scripts.fake_binance.errors import ApiError

if TYPE_CHECKING:
    from scripts.fake_binance.faults import Faults

LISTEN_KEY_TTL_MS = 60 * 60 * 1000


class Conn:
    def __init__(
        self, ws: web.WebSocketResponse, *, listen_key: str | None, streams: dict[str, str], combined: bool
    ) -> None:
        """`streams`: the engine's label of each stream -> the name the client subscribed to, which Binance echoes."""
        self.ws, self.listen_key, self.streams, self.combined = ws, listen_key, streams, combined
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()


class StreamHub:
    def __init__(self, faults: Faults, now_ms: Callable[[], int]) -> None:
        self._faults, self._now_ms = faults, now_ms
        self.conns: set[Conn] = set()
        self.listen_keys: dict[str, int] = {}  # key -> expiry (server ms)
        self.user_connects = 0
        self.connects_cv = threading.Condition()
        self._key_ids = itertools.count(1)

    # --- listen keys (REST handlers) --------------------------------------------------------------

    def new_listen_key(self, params: dict[str, str]) -> dict[str, Any]:
        now = self._now_ms()
        live = [k for k, exp in self.listen_keys.items() if exp > now]
        key = live[0] if live else f"fk{next(self._key_ids)}{secrets.token_hex(28)}"
        self.listen_keys[key] = now + LISTEN_KEY_TTL_MS  # Binance returns (and extends) the live key
        return {"listenKey": key}

    def keepalive(self, params: dict[str, str]) -> dict[str, Any]:
        key = params.get("listenKey") or next(iter(self.listen_keys), "")
        if key not in self.listen_keys:
            raise ApiError(400, -1125, "This listenKey does not exist.")
        self.listen_keys[key] = self._now_ms() + LISTEN_KEY_TTL_MS
        return {"listenKey": key}

    def close_listen_key(self, params: dict[str, str]) -> dict[str, Any]:
        self.listen_keys.pop(params.get("listenKey", ""), None)
        return {}

    # --- what is sent (on the loop) ------------------------------------------------------------------

    def broadcast(self, user: list[dict[str, Any]], market: list[tuple[str, dict[str, Any]]]) -> None:
        for event in user:
            text = json.dumps(event)
            for conn in self.conns:
                if conn.listen_key is not None and conn.listen_key in self.listen_keys and not self.muted(conn):
                    conn.queue.put_nowait(text)
        for stream, event in market:
            for conn in self.conns:
                if stream in conn.streams and not self.muted(conn):
                    payload = {"stream": conn.streams[stream], "data": event} if conn.combined else event
                    conn.queue.put_nowait(json.dumps(payload))

    def muted(self, conn: Conn) -> bool:
        """A muted connection stays open but says nothing: its frames are lost, its pings unanswered."""
        return self._faults.user_muted if conn.listen_key is not None else self._faults.market_muted

    async def send_frame(self, text: str, *, user: bool) -> None:
        for conn in self.conns:
            if (conn.listen_key is not None) == user and not self.muted(conn):
                conn.queue.put_nowait(text)

    async def close_user_conns(self) -> None:
        for conn in [c for c in self.conns if c.listen_key is not None]:
            self.conns.discard(conn)
            conn.queue.put_nowait(None)
            await conn.ws.close()

    async def expire_keys(self) -> None:
        now = self._now_ms()
        for key in list(self.listen_keys):
            del self.listen_keys[key]
            event = json.dumps({"e": "listenKeyExpired", "E": now, "listenKey": key})
            for conn in [c for c in self.conns if c.listen_key == key]:
                conn.queue.put_nowait(event)
                conn.queue.put_nowait(None)  # the sender closes the socket after the event
                self.conns.discard(conn)

    async def close_all(self) -> None:
        for conn in list(self.conns):
            await conn.ws.close()

    # --- connections ----------------------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        path, name = request.path, request.match_info.get("name", "")
        listen_key: str | None = None
        streams: dict[str, str] = {}
        combined = path.endswith("/stream")
        if path == "/private/ws":
            listen_key = request.query.get("listenKey", "")
        elif combined:
            names = [s for s in request.query.get("streams", "").split("/") if s]
            listen_key = next((s for s in names if s in self.listen_keys), None)
            streams = {_stream(s): s for s in names if s != listen_key}
        elif name in self.listen_keys or (path.startswith("/ws/") and len(name) > 40):
            listen_key = name
        else:
            streams = {_stream(name): name}
        if listen_key is not None:
            if self._faults.user_stream_blocked:
                raise web.HTTPServiceUnavailable()
            if listen_key not in self.listen_keys:
                raise web.HTTPBadRequest(text='{"code":-1125,"msg":"This listenKey does not exist."}')
        ws = web.WebSocketResponse(autoping=False, heartbeat=None)  # pings answered below, unless muted
        conn = Conn(ws, listen_key=listen_key, streams=streams, combined=combined)
        # Registered before the handshake completes: an event made right after the client's
        # connect() returns must reach it (it is queued until the sender starts).
        self.conns.add(conn)
        try:
            await ws.prepare(request)
        except Exception:
            self.conns.discard(conn)
            raise
        if listen_key is not None:
            with self.connects_cv:
                self.user_connects += 1
                self.connects_cv.notify_all()
        sender = asyncio.ensure_future(_send_loop(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
                if msg.type == WSMsgType.PING and not self.muted(conn):
                    await ws.pong(msg.data)
        finally:
            self.conns.discard(conn)
            sender.cancel()
        return ws


async def _send_loop(conn: Conn) -> None:
    while True:
        text = await conn.queue.get()
        if text is None:
            await conn.ws.close()
            return
        await conn.ws.send_str(text)


def _stream(name: str) -> str:
    """Stream names as the engine labels them: `btcusdt@markPrice@1s` is `btcusdt@markPrice`."""
    name = name.split("?")[0]
    return name[: -len("@1s")] if name.endswith("@1s") else name
