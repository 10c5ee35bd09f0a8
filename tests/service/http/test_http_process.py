"""The HTTP server's own process beside a real `run`: it ends with the service, however the service ends, and lets
go of the port; killed alone, it is started again."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import urllib.request
from pathlib import Path

from scripts.service_process import ServiceProcess
from tests.service.http.conftest import WAIT_S, free_port, service_env


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)": state, ppid, ...
        except OSError:
            continue  # it ended meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the service binds: TIME_WAIT is no holder
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
        return True


def _serving(service: ServiceProcess, port: int) -> int:
    """A pidfd of the service's HTTP process, once it serves on `port`."""
    service.wait_for("dashboard at")
    (child,) = _children(service.process.pid)
    assert "service.http.child" in Path(f"/proc/{child}/cmdline").read_text()
    assert not _port_free(port)
    return os.pidfd_open(child)


def _ended(pidfd: int, within_s: float) -> bool:
    readable, _, _ = select.select([pidfd], [], [], within_s)  # a pidfd reads ready once its process has ended
    return bool(readable)


def test_http_process_exits_and_frees_the_port_when_the_service_is_killed(tmp_path: Path) -> None:
    service = ServiceProcess(("run",), tmp_path, service_env(port := free_port()), wait_s=WAIT_S)
    try:
        pidfd = _serving(service, port)
        service.process.kill()  # SIGKILL: the service cleans nothing up
        assert service.wait() == -9
        assert _ended(pidfd, WAIT_S), "the HTTP process outlived its service"
        os.close(pidfd)
    finally:
        service.process.kill()
    assert _port_free(port)


def test_http_process_runs_in_the_idle_scheduling_class_and_the_service_does_not(tmp_path: Path) -> None:
    """A request's work never takes a core from a step: the scheduler runs the HTTP process only on a core the
    trading process does not want."""
    service = ServiceProcess(("run",), tmp_path, service_env(port := free_port()), wait_s=WAIT_S)
    try:
        _serving(service, port)
        (child,) = _children(service.process.pid)
        assert os.sched_getscheduler(child) == os.SCHED_IDLE
        assert os.sched_getscheduler(service.process.pid) == os.SCHED_OTHER
        assert service.stop() == 0
    finally:
        service.process.kill()


def test_http_process_ends_quietly_with_a_graceful_stop(tmp_path: Path) -> None:
    service = ServiceProcess(("run",), tmp_path, service_env(port := free_port()), wait_s=WAIT_S)
    try:
        pidfd = _serving(service, port)
        assert service.stop() == 0
        assert _ended(pidfd, 0), "the service exited before its HTTP process"
        os.close(pidfd)
    finally:
        service.process.kill()
    assert _port_free(port)
    assert not [line for line in service.log if "HTTP process" in line or "not served" in line]


def test_http_process_killed_is_started_again_and_the_dashboard_answers(tmp_path: Path) -> None:
    service = ServiceProcess(("run",), tmp_path, service_env(port := free_port()), wait_s=WAIT_S)
    try:
        pidfd = _serving(service, port)
        (first,) = _children(service.process.pid)
        os.kill(first, signal.SIGKILL)
        assert _ended(pidfd, WAIT_S)
        os.close(pidfd)
        line = service.wait_for("starting it again")
        assert "exited (code -9)" in line and "restart 1 of at most" in line
        service.wait_for("dashboard at")
        (second,) = _children(service.process.pid)
        assert second != first
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=WAIT_S) as response:
            assert response.status == 200
            assert json.loads(response.read())["streams"] == {"market": "", "exchange": ""}
        assert service.stop() == 0
    finally:
        service.process.kill()
    assert _port_free(port)
