"""A real `quantum-trader run` on paper with its HTTP server on a free loopback port, shared by a module's tests."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.service_process import ServiceProcess
from tests.actors.harness import WIDE_STOPS

WAIT_S = 90
TOKEN = "tok-3f9c2a7e51"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveService:
    process: ServiceProcess
    base: str
    db: Path
    workdir: Path

    def get(self, path: str, token: str | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def json(self, path: str) -> dict:  # type: ignore[type-arg]
        status, body = self.get(path)
        assert status == 200, body
        return json.loads(body)  # type: ignore[no-any-return]


def service_env(port: int, **extra: str) -> dict[str, str]:
    return os.environ | {
        "QT_FEED__SYNTHETIC_SPEED": "100",
        "QT_EXIT_MODES": json.dumps(WIDE_STOPS),
        "QT_HTTP__PORT": str(port),
        "QT_HTTP__TOKEN": TOKEN,
        **extra,
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    workdir = tmp_path_factory.mktemp("live")
    port = free_port()
    process = ServiceProcess(("run",), workdir, service_env(port), wait_s=WAIT_S)
    try:
        process.wait_for(": open (entry filled")  # the HTTP process starts beside trading: either line may be first
        line = process.seen("dashboard at") or process.wait_for("dashboard at")
        assert f"http://127.0.0.1:{port}/" in line
        service = LiveService(process, f"http://127.0.0.1:{port}", workdir / "quantum_trader.db", workdir)
        deadline = time.monotonic() + WAIT_S
        while not service.json("/api/status")["positions"]:  # the open position is on the page's source too
            assert time.monotonic() < deadline, "no open position served"
        yield service
    finally:
        code = process.stop()
    assert code == 0, "".join(process.log)
