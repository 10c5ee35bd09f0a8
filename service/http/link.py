"""The link between the service and its HTTP process: one socket pair, one JSON object a line.

The service sends the HTTP process what it serves (`Hello`), then, once it serves, what only the service knows
(the streams' health, the age of the last candle batch, its step and tick-to-order histograms) every
`PUSH_EVERY_S`, on its own schedule. No request makes the service work: the HTTP process answers from the last
figures it was sent, however often it is polled. The HTTP process says when it serves, or why it cannot, and
forwards its log records to the service's log.

The link also carries the service's life: however the service ends, SIGKILL included, the kernel closes its end,
and the HTTP process sees end-of-file and exits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

PUSH_EVERY_S = 1.0
STALE_AFTER_S = 5.0  # figures this old: the service is too busy (or stuck) to send them; served without


@dataclass(frozen=True, slots=True)
class Hello:
    """What the HTTP process serves: the service's database, and the rules of its address."""

    url: str
    host: str
    token: str | None
    log_level: int  # the service's: the process forwards its records at this level and above


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    """What only the running service knows, as it last sent it."""

    health: dict[str, str]  # stream -> "" when healthy, else why not
    last_event_age_s: float | None
    metrics: list[Metric]  # its own Prometheus families (step and tick-to-order histograms)


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def figures_message(health: dict[str, str], last_event_age_s: float | None, metrics: str) -> dict[str, Any]:
    """What the service sends every PUSH_EVERY_S; `metrics` in Prometheus's text format."""
    return {"figures": {"health": health, "last_event_age_s": last_event_age_s, "metrics": metrics}}


class ServiceLink:
    """The HTTP process's end: keeps the service's last figures for any request thread, and calls `on_closed` once
    the service's end is gone."""

    def __init__(self, sock: socket.socket, clock: Callable[[], float] = time.monotonic) -> None:
        self.sock, self.clock = sock, clock
        self.lines = sock.makefile("rb")
        self.sending = threading.Lock()
        self.latest: tuple[float, ServiceFigures] | None = None  # when it came (by `clock`), the figures
        self.closed = threading.Event()

    def hello(self) -> Hello:
        """The service's first message (before `listen`)."""
        line = self.lines.readline()
        if not line:
            raise ConnectionError("the service closed the link before saying what to serve")
        message = json.loads(line)
        return Hello(**message)

    def listen(self, on_closed: Callable[[], None]) -> None:
        """Take the service's first figures (sent as it starts the process, so the first request has them), then
        keep them as they come, in a thread of their own, until the link closes; then call `on_closed`."""
        with contextlib.suppress(OSError):
            if first := self.lines.readline():
                self._keep(first)

        def read() -> None:
            with contextlib.suppress(OSError):  # a reset is a close too
                for line in self.lines:
                    self._keep(line)
            self.closed.set()
            on_closed()

        threading.Thread(target=read, name="service-link", daemon=True).start()

    def _keep(self, line: bytes) -> None:
        figures = json.loads(line)["figures"]
        metrics = list(text_string_to_metric_families(figures["metrics"]))  # parsed once here, not at each scrape
        self.latest = self.clock(), ServiceFigures(figures["health"], figures["last_event_age_s"], metrics)

    def figures(self) -> ServiceFigures | None:
        """The service's last figures, the last event's age brought up to now; None when none came within
        STALE_AFTER_S (or the service is gone)."""
        latest = self.latest
        if latest is None or self.closed.is_set():
            return None
        came, figures = latest
        since = self.clock() - came
        if since > STALE_AFTER_S:
            return None
        if figures.last_event_age_s is None:
            return figures
        return replace(figures, last_event_age_s=figures.last_event_age_s + since)

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
