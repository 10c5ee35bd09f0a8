"""One reconnecting WebSocket connection on its own thread: the shape both Binance streams share.

A session: take the URL (`url()`, which may call REST: a new listen key), connect,
let the owner catch up before anything is read (`on_open(reconnect)`: a resync or
a backfill after a gap; the socket is open first, so nothing that happens
meanwhile is lost), mark the socket `connected`, then hand every frame, decoded
from JSON, to `on_message` until the socket closes, `on_message` returns False
(the server said this connection is over) or `stop()` is called. `on_poll` runs
before every read, at least every 0.25 s (a listen key's keepalive).

Then the next session, after `reconnect_delay_s`. A failure to connect or of a
callback is logged by `on_failure`, which says how long to wait before the next
session, if it is one of the connection errors or of the owner's `retry_on`;
anything else ends the thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

CONNECTION_ERRORS: tuple[type[Exception], ...] = (OSError, InvalidHandshake, InvalidURI, TimeoutError)
_READ_TIMEOUT_S = 0.25


def _nothing(*_: object) -> None:
    return None


class ReconnectingWebSocket:
    def __init__(
        self,
        *,
        name: str,
        url: Callable[[], str],
        on_message: Callable[[Any], bool],
        on_failure: Callable[[Exception], float],
        on_open: Callable[[bool], None] = _nothing,
        on_poll: Callable[[], None] = _nothing,
        retry_on: tuple[type[Exception], ...] = (),
        reconnect_delay_s: float = 1.0,
        open_timeout_s: float = 5.0,
    ) -> None:
        self._url, self._on_message, self._on_failure = url, on_message, on_failure
        self._on_open, self._on_poll = on_open, on_poll
        self._retry_on = CONNECTION_ERRORS + retry_on
        self.reconnect_delay_s, self.open_timeout_s = reconnect_delay_s, open_timeout_s
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._halt = threading.Event()
        self.connected = threading.Event()
        self.connections = 0  # how many times a connection was made (the first is not a gap)
        self._ws: ClientConnection | None = None

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._halt.set()
        self.drop()
        if self._thread.is_alive():
            self._thread.join(10)

    def drop(self) -> None:
        """Close the current connection as a network failure would (the thread reconnects unless stopped)."""
        ws = self._ws
        if ws is not None:
            ws.close()

    def _run(self) -> None:
        while not self._halt.is_set():
            delay = self.reconnect_delay_s
            try:
                self._session()
            except self._retry_on as e:
                delay = self._on_failure(e)
            self.connected.clear()
            self._halt.wait(delay)

    def _session(self) -> None:
        url = self._url()
        with connect(url, open_timeout=self.open_timeout_s, close_timeout=1) as ws:
            self._ws = ws
            try:
                self._on_open(self.connections > 0)
                self.connections += 1
                self.connected.set()
                self._read(ws)
            finally:
                self._ws = None

    def _read(self, ws: ClientConnection) -> None:
        while not self._halt.is_set():
            self._on_poll()
            try:
                text = ws.recv(timeout=_READ_TIMEOUT_S)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            if not self._on_message(json.loads(text)):
                return
