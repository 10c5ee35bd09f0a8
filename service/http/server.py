"""uvicorn on a socket bound here (so a port in use is one clear error, not uvicorn's exit), the URL it is reached
at, and the check that refuses a server open to the network without a token."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from config import Settings
from service.http.auth import refuse_to_start

START_WITHIN_S = 10.0


def bind(host: str, port: int) -> socket.socket:
    """The listening socket; OSError (e.g. the port is in use) before anything serves on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart reuses a port left in TIME_WAIT
    try:
        sock.bind((host, port))
        sock.listen(2048)  # now: two services starting at once may both bind, only one may listen
    except OSError:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    """uvicorn, saying once it serves (uvicorn itself only sets a flag)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.on_started()


class HttpServer:
    def __init__(self, app: FastAPI, on_started: Callable[[], None] = lambda: None) -> None:
        self.started = threading.Event()

        def started() -> None:
            self.started.set()
            on_started()

        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=2)
        self.server = _Server(config, started)
        self.thread: threading.Thread | None = None
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # our own line says where it serves

    def serve_forever(self, sock: socket.socket) -> None:
        """In the caller's thread until Ctrl-C or SIGTERM (uvicorn handles them in the main thread) or `stop`."""
        self.server.run(sockets=[sock])

    def start(self, sock: socket.socket) -> None:
        """In a thread of its own; returns once it serves."""
        self.thread = threading.Thread(target=self.serve_forever, args=(sock,), name="http", daemon=True)
        self.thread.start()
        if not self.started.wait(START_WITHIN_S):
            raise OSError(f"the HTTP server did not start within {START_WITHIN_S:.0f}s")

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=5)


def url(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def check(settings: Settings) -> None:
    """Raises ValueError when the server must not start as configured (off loopback without a token)."""
    http = settings.http
    if http.enabled and (why := refuse_to_start(http.host, token(settings))):
        raise ValueError(why)


def token(settings: Settings) -> str | None:
    return settings.http.token.get_secret_value() if settings.http.token else None
