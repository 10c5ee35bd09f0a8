"""The dashboard and HTTP API in a process of their own beside the trading service.

Each request's work (SQL reads, JSON, uvicorn's loop) runs in that process, at the lowest CPU priority, so it never
holds the service's GIL nor takes a core from it while a candle batch is on its way to an order. The service binds
the port itself (a port in use is one warning here, and trading goes on), hands the listening socket and one end of
a link (service/http/link.py) to the process, and sends it what only the service knows (the streams' health, its
own timings) once a second, whether or not anyone asks. The process reads the same database, and queues halt and
resume there, as `quantum-trader gate halt` does; the service applies them between steps.

A process that dies after serving is started again on the same socket (after a pause that doubles each time, at
most MAX_RESTARTS times in a row), so the page comes back without a restart of the service. However the service
ends, its end of the link closes and the process exits; the port goes with the service.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any, BinaryIO

from prometheus_client import generate_latest

from config import Settings
from service.http import link, server
from service.probe import Probe

log = logging.getLogger("quantum_trader.http")
START_WITHIN_S = 30.0  # a fresh interpreter importing FastAPI and SQLAlchemy on a loaded machine
STOP_WITHIN_S = 5.0
FIRST_PAUSE_S = 1.0  # before the first restart; doubled before each next one
MAX_RESTARTS = 5  # in a row: a process that served for STEADY_S since its last start resets the count
STEADY_S = 300.0


class _Child:
    """One HTTP process and the service's end of its link."""

    def __init__(self, process: subprocess.Popen[bytes], sock: socket.socket) -> None:
        self.process, self.sock = process, sock
        self.lines: BinaryIO = sock.makefile("rb")

    def end(self) -> int:
        """Close the link (the process sees it and exits) and wait until the process is gone; its exit code."""
        with contextlib.suppress(OSError):  # the process closed it first
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the threads that read or write it too
        self.sock.close()
        try:
            return self.process.wait(timeout=STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            log.warning("the HTTP process did not stop within %.0fs: killed", STOP_WITHIN_S)
            self.process.kill()
            return self.process.wait()


class HttpProcess:
    def __init__(self, settings: Settings, probe: Probe) -> None:
        self.settings, self.probe = settings, probe
        self.listener: socket.socket | None = None
        self.child: _Child | None = None
        self.changing = threading.Lock()  # `stop` against a restart under way
        self.stopping = threading.Event()
        self.served = threading.Event()  # set once the first process serves (after the line that says where)
        self.supervising: threading.Thread | None = None

    def start(self) -> None:
        """Bind the port and start the process on it; OSError when the port is in use. The process imports and
        opens the database while the service starts trading: a line says where it serves once it does, or why not.
        """
        http = self.settings.http
        self.listener = server.bind(http.host, http.port)
        try:
            self.child = self._spawn()
        except OSError:
            self.listener.close()
            raise
        self.supervising = threading.Thread(target=self._supervise, name="http-process", daemon=True)
        self.supervising.start()

    def _spawn(self) -> _Child:
        assert self.listener is not None
        ours, theirs = socket.socketpair()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "service.http.child", str(self.listener.fileno()), str(theirs.fileno())],
                pass_fds=(self.listener.fileno(), theirs.fileno()),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the terminal is for the service, which stops this process itself
            )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        child = _Child(process, ours)
        try:
            link.send(ours, self._hello())
        except OSError:
            child.end()
            raise
        return child

    def _hello(self) -> dict[str, Any]:
        hello = link.Hello(
            url=self.settings.database.url,
            host=self.settings.http.host,
            token=server.token(self.settings),
            log_level=logging.getLogger().getEffectiveLevel(),
        )
        return asdict(hello)

    def _supervise(self) -> None:
        """Follow each process until it exits, and start another after a pause while the count allows. A first
        process that never serves is not started again: what stopped it (the database, say) says so, once."""
        http = self.settings.http
        restarts = 0
        while (child := self.child) is not None:
            started = time.monotonic()
            why = self._follow(child)
            code = child.end()
            if self.stopping.is_set():
                return
            if not self.served.is_set():
                not_served(http.host, http.port, why)
                return
            ended = why or f"the HTTP process exited (code {code})"
            restarts = 0 if time.monotonic() - started >= STEADY_S else restarts
            if restarts == MAX_RESTARTS:
                log.warning(
                    "%s after %d restarts in a row: the dashboard and HTTP API are no longer served; trading goes on "
                    "(`quantum-trader status` and `gate halt` still work; a restart of the service serves them again)",
                    ended,
                    restarts,
                )
                return
            pause = FIRST_PAUSE_S * 2**restarts
            restarts += 1
            log.warning(
                "%s: the dashboard and HTTP API are down; starting it again in %.0fs (restart %d of at most %d in a "
                "row); trading goes on",
                ended,
                pause,
                restarts,
                MAX_RESTARTS,
            )
            if self.stopping.wait(pause):
                return
            self._restart()

    def _restart(self) -> None:
        with self.changing:
            if self.stopping.is_set():
                self.child = None
                return
            try:
                self.child = self._spawn()
            except OSError as error:
                log.warning("the HTTP process could not be started again: %s", error)
                self.child = None  # nothing left to follow

    def _follow(self, child: _Child) -> str | None:
        """The process's messages until it exits or `stop` closes the link: first whether it serves, then its log
        records; meanwhile the service's figures go to it on their own schedule, the first at once. Why it did not
        serve, if it did not."""
        http = self.settings.http
        threading.Thread(target=self._push, args=(child,), name="http-figures", daemon=True).start()
        try:
            why = self._await_serving(child)
        except OSError:
            why = "the link to the HTTP process broke"
        if why is not None:
            return why
        self.served.set()
        log.info("dashboard at %s", server.url(http.host, http.port))
        with contextlib.suppress(OSError):  # closed by `stop`, or reset by a process that died
            for line in child.lines:
                _log(json.loads(line)["log"])
        return None

    def _await_serving(self, child: _Child) -> str | None:
        """None once the process serves, else why it does not."""
        child.sock.settimeout(START_WITHIN_S)
        try:
            while line := child.lines.readline():
                message = json.loads(line)
                if "log" in message:
                    _log(message["log"])
                elif "error" in message:
                    return str(message["error"])
                elif message.get("serving"):
                    return None
        except TimeoutError:
            return f"the HTTP process did not start within {START_WITHIN_S:.0f}s"
        finally:
            child.sock.settimeout(None)
        return f"the HTTP process exited (code {child.process.wait()})"

    def _push(self, child: _Child) -> None:
        """The service's figures to the process every PUSH_EVERY_S, until its link closes: this thread's own
        schedule, so the service does the same small work however often the page is polled."""
        probe = self.probe
        with contextlib.suppress(OSError):  # the link closed: the process exited or is being stopped
            while True:
                metrics = generate_latest(probe.registry).decode()
                link.send(child.sock, link.figures_message(probe.health(), probe.last_event_age_s(), metrics))
                if self.stopping.wait(link.PUSH_EVERY_S):
                    return

    def stop(self) -> None:
        """Close the link (the process sees it and exits), wait until the process is gone, and let go of the port."""
        self.stopping.set()
        with self.changing:
            child = self.child
        if child is not None:
            child.end()
        if self.supervising is not None and self.supervising is not threading.current_thread():
            self.supervising.join()
        if self.listener is not None:
            self.listener.close()


def _log(record: dict[str, Any]) -> None:
    logging.getLogger(record["logger"]).log(record["level"], "%s", record["message"])


def not_served(host: str, port: int, why: object) -> None:
    log.warning(  # a warning, not an error: trading is unaffected
        "the dashboard and HTTP API are not served: %s:%d: %s; trading goes on without them (set http.port or "
        "QT_HTTP__PORT to another port; `quantum-trader status` and `gate halt` still work)",
        host,
        port,
        why,
    )


@contextmanager
def serving(settings: Settings, probe: Probe) -> Iterator[HttpProcess | None]:
    """The API and dashboard beside the running service (the process, or None when not served). A port in use, or
    a server that does not start, is one warning line and the service trades on: its open positions need it
    running more than anyone needs the page, and `quantum-trader status` and `gate halt` still work through the
    database."""
    http = settings.http
    process = HttpProcess(settings, probe) if http.enabled else None
    try:
        if process is not None:
            process.start()
    except OSError as error:
        not_served(http.host, http.port, error.strerror or error)
        process = None
    try:
        yield process
    finally:
        if process is not None:
            process.stop()
