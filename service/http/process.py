"""The dashboard and HTTP API in a process of their own beside the trading service.

Each request's work (SQL reads, JSON, uvicorn's loop) runs in that process, so it never holds the service's GIL
while a candle batch is on its way to an order. The service binds the port itself (a port in use is one warning
here, and trading goes on), hands the listening socket and one end of a link (service/http/link.py) to the process,
and answers the few questions only it can (the streams' health, its own timings). The process reads the same
database, and queues halt and resume there, as `quantum-trader gate halt` does; the service applies them between
steps. However the service ends, its end of the link closes and the process exits, letting go of the port.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import subprocess
import sys
import threading
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


class HttpProcess:
    def __init__(self, settings: Settings, probe: Probe) -> None:
        self.settings, self.probe = settings, probe
        self.process: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self.stopping = threading.Event()
        self.served = threading.Event()  # set once the process serves (after the line that says where)
        self.linked: threading.Thread | None = None

    def start(self) -> None:
        """Bind the port and start the process on it; OSError when the port is in use. The process imports and
        opens the database while the service starts trading: a line says where it serves once it does, or why not.
        """
        http = self.settings.http
        listener = server.bind(http.host, http.port)
        ours, theirs = socket.socketpair()
        self.sock = ours
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service.http.child", str(listener.fileno()), str(theirs.fileno())],
                pass_fds=(listener.fileno(), theirs.fileno()),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the terminal is for the service, which stops this process itself
            )
            link.send(ours, self._hello())
        except OSError:
            self.stop()
            raise
        finally:
            listener.close()  # the process holds the port now: it goes when the process goes
            theirs.close()
        self.linked = threading.Thread(target=self._follow, args=(ours.makefile("rb"),), name="http-link", daemon=True)
        self.linked.start()

    def _hello(self) -> dict[str, Any]:
        hello = link.Hello(
            url=self.settings.database.url,
            host=self.settings.http.host,
            token=server.token(self.settings),
            log_level=logging.getLogger().getEffectiveLevel(),
        )
        return asdict(hello)

    def _follow(self, lines: BinaryIO) -> None:
        """The process's messages until it exits or `stop` closes the link: first whether it serves, then its
        questions; its log records all along."""
        assert self.process is not None
        http = self.settings.http
        try:
            why = self._await_serving(lines)
        except OSError:
            why = "the link to the HTTP process broke"
        if why is not None:
            if not self.stopping.is_set():
                not_served(http.host, http.port, why)
                self._end()
            return
        self.served.set()
        log.info("dashboard at %s", server.url(http.host, http.port))
        with contextlib.suppress(OSError):  # closed by `stop`, or reset by a process that died
            self._answer(lines)
        if not self.stopping.is_set():
            log.warning(
                "the HTTP process exited (code %s): the dashboard and HTTP API are no longer served; trading goes "
                "on (`quantum-trader status` and `gate halt` still work; a restart of the service serves them again)",
                self.process.wait(),
            )

    def _await_serving(self, lines: BinaryIO) -> str | None:
        """None once the process serves, else why it does not."""
        assert self.sock is not None and self.process is not None
        self.sock.settimeout(START_WITHIN_S)
        try:
            while line := lines.readline():
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
            self.sock.settimeout(None)
        return f"the HTTP process exited (code {self.process.wait()})"

    def _answer(self, lines: BinaryIO) -> None:
        assert self.sock is not None
        for line in lines:
            message = json.loads(line)
            if "log" in message:
                _log(message["log"])
            else:
                link.send(self.sock, self._figures(message))

    def _figures(self, question: dict[str, Any]) -> dict[str, Any]:
        probe = self.probe
        return {
            "id": question["id"],
            "health": probe.health(),
            "last_event_age_s": probe.last_event_age_s(),
            "metrics": generate_latest(probe.registry).decode() if question.get("metrics") else "",
        }

    def stop(self) -> None:
        """Close the link (the process sees it and exits), and wait until the process is gone."""
        self.stopping.set()
        self._end()
        if self.linked is not None and self.linked is not threading.current_thread():
            self.linked.join()

    def _end(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):  # the process closed it first
                self.sock.shutdown(socket.SHUT_RDWR)  # wakes the link's thread too
            self.sock.close()
        if self.process is not None:
            try:
                self.process.wait(timeout=STOP_WITHIN_S)
            except subprocess.TimeoutExpired:
                log.warning("the HTTP process did not stop within %.0fs: killed", STOP_WITHIN_S)
                self.process.kill()
                self.process.wait()


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
