"""The reconnecting WebSocket loop both Binance streams run on, against a plain WebSocket server on 127.0.0.1."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from exchange.binance.websocket import ReconnectingWebSocket

WAIT_S = 5.0


class ScriptedServer:
    """Connection i sends the frames of script[i] and, when the script says so, closes; later connections (and
    those told to stay) stay open until the client goes."""

    def __init__(self, script: list[tuple[list[dict[str, Any]], bool]]) -> None:
        self.script = script
        self.connections = 0
        self.closed: queue.Queue[int] = queue.Queue()  # the index of each connection the client closed
        self._lock = threading.Lock()
        self._server: Server = serve(self._handle, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(WAIT_S)

    def _handle(self, ws: ServerConnection) -> None:
        with self._lock:
            index, self.connections = self.connections, self.connections + 1
        frames, close = self.script[index] if index < len(self.script) else ([], False)
        for frame in frames:
            ws.send(json.dumps(frame))
        if close:
            return
        try:
            for _ in ws:
                pass
        except ConnectionClosed:
            pass
        self.closed.put(index)


class Recorder:
    """The owner's side: what each callback saw, as queues the test waits on."""

    def __init__(self, url: str, *, fail_first: list[Exception] | None = None, end_on: str = "") -> None:
        self._url, self._fail_first, self._end_on = url, list(fail_first or ()), end_on
        self.opens: queue.Queue[bool] = queue.Queue()
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.failures: queue.Queue[Exception] = queue.Queue()

    def url(self) -> str:
        if self._fail_first:
            raise self._fail_first.pop(0)
        return self._url

    def on_open(self, reconnect: bool) -> None:
        self.opens.put(reconnect)

    def on_message(self, message: dict[str, Any]) -> bool:
        self.messages.put(message)
        if message.get("raise"):
            raise ValueError("a frame the owner cannot read")
        return not (self._end_on and message.get(self._end_on))

    def on_failure(self, error: Exception) -> float:
        self.failures.put(error)
        return 0.01

    def socket(self, **options: Any) -> ReconnectingWebSocket:
        return ReconnectingWebSocket(
            name="test-socket",
            url=self.url,
            on_open=self.on_open,
            on_message=self.on_message,
            on_failure=self.on_failure,
            reconnect_delay_s=0.01,
            open_timeout_s=2.0,
            **options,
        )


def taken(q: queue.Queue[Any], count: int) -> list[Any]:
    return [q.get(timeout=WAIT_S) for _ in range(count)]


@pytest.fixture
def servers() -> Iterator[list[ScriptedServer]]:
    started: list[ScriptedServer] = []
    yield started
    for server in started:
        server.stop()


def test_websocket_hands_every_frame_over_and_reconnects_after_the_server_closes(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer([([{"n": 1}, {"n": 2}], True), ([{"n": 3}], False)])
    servers.append(server)
    owner = Recorder(server.url)
    socket = owner.socket()
    socket.start()
    try:
        assert taken(owner.messages, 3) == [{"n": 1}, {"n": 2}, {"n": 3}]
        assert taken(owner.opens, 2) == [False, True]  # the second connection is a gap: the owner catches up
        assert socket.connected.is_set() and socket.connections == 2
    finally:
        socket.stop()
    assert not socket.is_alive() and not socket.connected.is_set()
    assert server.closed.get(timeout=WAIT_S) == 1  # stop closes the open connection


def test_websocket_message_callback_false_ends_the_connection_and_a_new_one_follows(
    servers: list[ScriptedServer],
) -> None:
    server = ScriptedServer([([{"expired": True}, {"n": 9}], False), ([{"n": 1}], False)])
    servers.append(server)
    owner = Recorder(server.url, end_on="expired")
    socket = owner.socket()
    socket.start()
    try:
        assert taken(owner.messages, 2) == [{"expired": True}, {"n": 1}]  # nothing more is read from the first
        assert server.closed.get(timeout=WAIT_S) == 0
        assert taken(owner.opens, 2) == [False, True]
    finally:
        socket.stop()


def test_websocket_connection_errors_and_the_owners_errors_are_retried_after_the_owners_delay(
    servers: list[ScriptedServer],
) -> None:
    server = ScriptedServer([([{"n": 1}], False)])
    servers.append(server)
    owner = Recorder(server.url, fail_first=[ConnectionRefusedError("down"), KeyError("no listen key")])
    socket = owner.socket(retry_on=(KeyError,))
    socket.start()
    try:
        assert taken(owner.messages, 1) == [{"n": 1}]
        assert [type(e) for e in taken(owner.failures, 2)] == [ConnectionRefusedError, KeyError]
        assert taken(owner.opens, 1) == [False]  # failed attempts are not connections: no catching up
        assert socket.connections == 1
    finally:
        socket.stop()


def test_websocket_any_other_error_ends_the_thread(
    servers: list[ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    died: queue.Queue[type[BaseException]] = queue.Queue()
    monkeypatch.setattr(threading, "excepthook", lambda args: died.put(args.exc_type))
    server = ScriptedServer([([{"raise": True}], False)])
    servers.append(server)
    owner = Recorder(server.url, fail_first=[])
    socket = owner.socket()
    socket.start()
    try:
        assert died.get(timeout=WAIT_S) is ValueError
        assert server.closed.get(timeout=WAIT_S) == 0
        assert owner.failures.empty() and server.connections == 1
    finally:
        socket.stop()
    assert not socket.is_alive()
