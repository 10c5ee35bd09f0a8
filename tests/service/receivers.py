"""Notification receivers on 127.0.0.1 for the tests: one that records Apprise's JSON posts, one that hangs."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JsonReceiver:
    """Answers every POST with 200 and keeps its JSON body, in order of arrival."""

    def __init__(self) -> None:
        received: queue.Queue[dict[str, Any]] = queue.Queue()
        self.received = received
        self.seen: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.put(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, title: str, within_s: float) -> dict[str, Any]:
        """The first notice whose title holds `title` (from all received so far); raises `TimeoutError`."""
        deadline = time.monotonic() + within_s
        while True:
            for notice in self.seen:
                if title in notice["title"]:
                    return notice
            try:
                self.seen.append(self.received.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                titles = [n["title"] for n in self.seen]
                raise TimeoutError(f"no notice titled {title!r} within {within_s}s; got {titles}") from None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class HangingReceiver:
    """Accepts connections and never reads or answers them: a channel that hangs."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"json://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.accepted = threading.Event()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            self.accepted.set()

    def close(self) -> None:
        self.listener.close()
        for connection in self.connections:
            connection.close()


@contextmanager
def json_receiver() -> Iterator[JsonReceiver]:
    receiver = JsonReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


@contextmanager
def hanging_receiver() -> Iterator[HangingReceiver]:
    receiver = HangingReceiver()
    try:
        yield receiver
    finally:
        receiver.close()
