"""The link between the service and its HTTP process: one socket pair, one JSON object a line.

The service sends the HTTP process what it serves (`Hello`) and answers its questions about what only the service
knows: the streams' health, the age of the last candle batch, and its step and tick-to-order histograms. The
HTTP process says when it serves, or why it cannot, and forwards its log records to the service's log.

The service answers only when asked, so its work grows with the scrapes and status reads, never with the rest of
the HTTP traffic. The link also carries the service's life: however the service ends, SIGKILL included, the kernel
closes its end, and the HTTP process sees end-of-file and exits, letting go of the port.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

ASK_WITHIN_S = 2.0  # a service too busy to answer in this long is served without its own figures


@dataclass(frozen=True, slots=True)
class Hello:
    """What the HTTP process serves: the service's database, and the rules of its address."""

    url: str
    host: str
    token: str | None
    log_level: int  # the service's: the process forwards its records at this level and above


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    """What only the running service knows, as it answered."""

    health: dict[str, str]  # stream -> "" when healthy, else why not
    last_event_age_s: float | None
    metrics: list[Metric]  # its own Prometheus families (step and tick-to-order histograms); empty unless asked


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


class ServiceLink:
    """The HTTP process's end: asks the service for its figures from any request thread, and calls `on_closed`
    once the service's end is gone."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lines = sock.makefile("rb")
        self.sending = threading.Lock()
        self.numbers = itertools.count(1)
        self.waiting: dict[int, Future[dict[str, Any]]] = {}
        self.closed = threading.Event()

    def hello(self) -> Hello:
        """The service's first message (before `listen`)."""
        line = self.lines.readline()
        if not line:
            raise ConnectionError("the service closed the link before saying what to serve")
        message = json.loads(line)
        return Hello(**message)

    def listen(self, on_closed: Callable[[], None]) -> None:
        """Read the service's answers in a thread of their own until the link closes, then call `on_closed`."""

        def read() -> None:
            try:
                for line in self.lines:
                    answer = json.loads(line)
                    future = self.waiting.pop(answer["id"], None)
                    if future is not None:  # None: its asker gave up waiting
                        future.set_result(answer)
            except OSError:
                pass  # a reset is a close too
            self.closed.set()
            for future in list(self.waiting.values()):
                future.cancel()
            on_closed()

        threading.Thread(target=read, name="service-link", daemon=True).start()

    def ask(self, *, metrics: bool) -> ServiceFigures | None:
        """The service's figures; None when it does not answer within ASK_WITHIN_S (or is gone)."""
        if self.closed.is_set():
            return None
        number = next(self.numbers)
        future: Future[dict[str, Any]] = Future()
        self.waiting[number] = future
        try:
            self.tell({"id": number, "metrics": metrics})
            answer = future.result(timeout=ASK_WITHIN_S)
        except (OSError, FutureTimeout, CancelledError):
            self.waiting.pop(number, None)
            return None
        return ServiceFigures(
            health=answer["health"],
            last_event_age_s=answer["last_event_age_s"],
            metrics=list(text_string_to_metric_families(answer["metrics"])),
        )

    def tell(self, message: dict[str, Any]) -> None:
        with self.sending:
            send(self.sock, message)


class LinkHandler(logging.Handler):
    """Forwards the HTTP process's log records to the service, which logs them as its own (one format, one
    stream, one level)."""

    def __init__(self, link: ServiceLink) -> None:
        super().__init__()
        self.link = link

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        with contextlib.suppress(OSError):  # the service is gone: nobody is left to read it
            self.link.tell({"log": {"level": record.levelno, "logger": record.name, "message": message}})
