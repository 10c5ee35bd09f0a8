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

    def __init__(self, script: list[tuple[list[dict[str, Any] | str], bool]]) -> None:
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
            ws.send(frame if isinstance(frame, str) else json.dumps(frame))  # a str is sent as it is
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

    def __init__(
        self,
        url: str,
        *,
        fail_first: list[Exception] | None = None,
        fail_open_first: list[Exception] | None = None,
        end_on: str = "",
        hear: bool = False,
    ) -> None:
        self._url, self._fail_first, self._end_on = url, list(fail_first or ()), end_on
        self._fail_open_first = list(fail_open_first or ())
        self._hear = hear  # tell the socket it heard from the server at every frame read
        self.opens: queue.Queue[bool] = queue.Queue()
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.failures: queue.Queue[Exception] = queue.Queue()
        self.delays: list[float] = []  # the wait before each attempt to connect
        self.sock: ReconnectingWebSocket | None = None

    def url(self) -> str:
        assert self.sock is not None
        self.delays.append(self.sock.last_delay_s)
        if self._fail_first:
            raise self._fail_first.pop(0)
        return self._url

    def on_open(self, reconnect: bool) -> None:
        if self._fail_open_first:
            raise self._fail_open_first.pop(0)
        self.opens.put(reconnect)

    def on_message(self, message: dict[str, Any]) -> bool:
        if message.get("raise"):
            raise ValueError("a frame the owner cannot read")
        if message.get("missing"):
            raise KeyError("s")
        self.messages.put(message)
        if self._hear:
            assert self.sock is not None
            self.sock.heard()
        return not (self._end_on and message.get(self._end_on))

    def on_failure(self, error: Exception) -> float:
        self.failures.put(error)
        return 0.0

    def socket(self, **options: Any) -> ReconnectingWebSocket:
        settings: dict[str, Any] = {"reconnect_delay_s": 0.01, "open_timeout_s": 2.0} | options
        self.sock = ReconnectingWebSocket(
            name="test-socket",
            url=self.url,
            on_open=self.on_open,
            on_message=self.on_message,
            on_failure=self.on_failure,
            **settings,
        )
        return self.sock


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


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


def test_websocket_connection_errors_and_the_owners_errors_are_retried(
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


def test_websocket_unreadable_frames_are_counted_and_skipped_and_the_next_one_read(
    servers: list[ScriptedServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = ScriptedServer(
        [(["{not json", {"raise": True}, {"missing": True}, b"\xff".decode("latin-1"), {"n": 1}], False)]
    )
    servers.append(server)
    owner = Recorder(server.url)
    socket = owner.socket()
    socket.start()
    try:
        assert taken(owner.messages, 1) == [{"n": 1}]
        assert socket.skipped == {"not JSON": 2, "bad value": 1, "missing field": 1}
        assert socket.is_alive() and socket.connected.is_set() and socket.connections == 1
        assert owner.failures.empty()
    finally:
        socket.stop()
    assert "frame skipped (not JSON)" in caplog.text and "frame skipped (missing field)" in caplog.text


def test_websocket_unexpected_callback_failure_is_logged_and_the_loop_reconnects(
    servers: list[ScriptedServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = ScriptedServer([([], True), ([{"n": 2}], False)])
    servers.append(server)
    owner = Recorder(server.url, fail_open_first=[RuntimeError("the owner's bug")])
    socket = owner.socket()
    socket.start()
    try:
        assert taken(owner.messages, 1) == [{"n": 2}]
        [failure] = taken(owner.failures, 1)
        assert isinstance(failure, RuntimeError)
        assert socket.is_alive() and socket.connected.is_set()
    finally:
        socket.stop()
    assert "test-socket: unexpected failure; reconnecting" in caplog.text and "RuntimeError" in caplog.text


def test_websocket_backoff_doubles_up_to_the_cap_and_resets_once_heard(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer([([{"n": 1}], True), ([{"n": 2}], False)])
    servers.append(server)
    refused = [ConnectionRefusedError("down") for _ in range(5)]
    owner = Recorder(server.url, fail_first=refused, hear=True)
    socket = owner.socket(reconnect_delay_s=0.01, max_reconnect_delay_s=0.04)
    socket.start()
    try:
        assert taken(owner.messages, 2) == [{"n": 1}, {"n": 2}]
        # Before each attempt: none, then 0.01 doubled per failure up to the cap; after a session that was
        # heard from and closed, the base delay again.
        assert owner.delays == [0.0, 0.01, 0.02, 0.04, 0.04, 0.04, 0.01]
        assert socket.failures == 0
    finally:
        socket.stop()


def test_websocket_health_connected_silent_heard_by_ping_and_disconnected(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer([([], False)])  # a live server that sends nothing: it answers pings
    servers.append(server)
    clock = ManualClock()
    owner = Recorder(server.url)
    socket = owner.socket(ping_interval_s=5.0, monotonic=clock, wall_ms=lambda: 1_700_000_000_000)
    assert socket.health("test stream", 10) == "test stream not running"
    socket.start()
    try:
        assert socket.wait(lambda: socket.health("test stream", 10) == "", WAIT_S)
        clock.now += 11  # nothing heard for 11 s: silent, until the ping this makes is answered
        assert socket.health("test stream", 10) == "test stream silent for 11 s"
        assert socket.wait(lambda: socket.health("test stream", 10) == "", WAIT_S)
        server.stop()
        assert socket.wait(lambda: not socket.connected.is_set(), WAIT_S)
        assert socket.health("test stream", 10).startswith("test stream disconnected since 2023-11-14 22:13:20 UTC")
    finally:
        socket.stop()
    assert socket.health("test stream", 10) == "test stream not running"
