"""uvicorn in a daemon thread beside the trading service, on a socket bound here (so a port in use is one clear
error, not uvicorn's exit), and the read-only server of `quantum-trader dashboard`."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from config import Settings
from persistence.db import make_engine, open_read_only
from service import gate_commands
from service.http.app import Backend, create_app
from service.http.auth import AccessRules, refuse_to_start
from service.probe import Probe

log = logging.getLogger("quantum_trader.http")
START_WITHIN_S = 10.0


class HttpServer:
    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.server = uvicorn.Server(
            uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=2)
        )
        self.thread: threading.Thread | None = None
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # our own line says where it serves

    def bind(self) -> socket.socket:
        """The listening socket; OSError (e.g. the port is in use) before any thread starts."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart reuses a port left in TIME_WAIT
        try:
            sock.bind((self.host, self.port))
            sock.listen(2048)  # now: two services starting at once may both bind, only one may listen
        except OSError:
            sock.close()
            raise
        return sock

    def start(self) -> None:
        sock = self.bind()
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, name="http", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + START_WITHIN_S
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)  # uvicorn says it started only through this flag
        if not self.server.started:
            raise OSError(f"the HTTP server did not start within {START_WITHIN_S:.0f}s")

    def serve_forever(self) -> None:
        """In the caller's thread until Ctrl-C (uvicorn handles the signals)."""
        self.server.run(sockets=[self.bind()])

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=5)


def url(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def check(settings: Settings) -> None:
    """Raises ValueError when the server must not start as configured (off loopback without a token)."""
    http = settings.http
    if http.enabled and (why := refuse_to_start(http.host, _token(settings))):
        raise ValueError(why)


def _token(settings: Settings) -> str | None:
    return settings.http.token.get_secret_value() if settings.http.token else None


@contextmanager
def serving(settings: Settings, probe: Probe) -> Iterator[None]:
    """The API and dashboard beside the running service. A port in use, or a server that does not start, is one
    warning line and the service trades on: its open positions need it running more than anyone needs the page,
    and `quantum-trader status` and `gate halt` still work through the database."""
    if not settings.http.enabled:
        yield
        return
    url_ = settings.database.url
    engine = open_read_only(url_, in_writer_process=True)  # never opens the file beside the service's locks
    writer = make_engine(url_)  # only the operator's commands are written, as `gate halt` does

    def command(name: str, reason: str) -> str:
        return gate_commands.through_service(writer, name, reason)

    backend = Backend(engine=engine, running=lambda: True, command=command, probe=probe)
    rules = AccessRules(host=settings.http.host, token=_token(settings), writable=True)
    server: HttpServer | None = HttpServer(create_app(backend, rules), settings.http.host, settings.http.port)
    try:
        assert server is not None
        server.start()
    except OSError as error:
        log.warning(  # a warning, not an error: trading is unaffected
            "the dashboard and HTTP API are not served: %s:%d: %s; trading goes on without them (set http.port or "
            "QT_HTTP__PORT to another port; `quantum-trader status` and `gate halt` still work)",
            settings.http.host,
            settings.http.port,
            error.strerror or error,
        )
        server = None
    else:
        log.info("dashboard at %s", url(settings.http.host, settings.http.port))
    try:
        yield
    finally:
        if server is not None:
            server.stop()
        engine.dispose()
        writer.dispose()
