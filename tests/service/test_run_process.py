"""`quantum-trader run` as a real process: trades on paper, one instance per database, clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

WAIT_S = 90


def command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("quantum-trader")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from service.cli import main; main()", *args]


class Service:
    """A running `quantum-trader run` whose log lines arrive on a queue."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(command("run"), cwd=workdir, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str) -> str:
        while True:
            line = self.lines.get(timeout=WAIT_S)
            assert line is not None, "the service exited early:\n" + "".join(self.log)
            self.log.append(line)
            if text in line:
                return line

    def drain(self) -> str:
        while (line := self.lines.get(timeout=WAIT_S)) is not None:
            self.log.append(line)
        return "".join(self.log)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return os.environ | {"QT_DATABASE__URL": f"sqlite:///{tmp_path / 'live.db'}", "QT_FEED__SYNTHETIC_SPEED": "200",
                         "QT_RISK__ATR_MULTIPLIER_SL": "10"}


def test_run_trades_on_paper_refuses_a_second_instance_and_stops_on_sigterm(tmp_path: Path, env: dict[str, str]) -> None:
    service = Service(tmp_path, env)
    try:
        assert "PAPER TRADING" in service.wait_for("PAPER TRADING")
        opened = service.wait_for(": open (entry filled")
        assert "LONG" in opened or "SHORT" in opened

        second = subprocess.run(command("run"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S)
        assert second.returncode == 2
        assert "another Quantum Trader" in second.stderr and str(service.process.pid) in second.stderr

        status = subprocess.run(command("status", "--json"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S)
        report = json.loads(status.stdout)
        assert report["service"]["running"] is True and report["service"]["pid"] == service.process.pid

        halt = subprocess.run(command("gate", "halt", "--reason", "maintenance window"), cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=WAIT_S)
        assert halt.returncode == 0 and "applied by the running service" in halt.stdout
        assert "halted" in halt.stdout
    finally:
        service.process.send_signal(signal.SIGTERM)
        code = service.process.wait(timeout=WAIT_S)
    log = service.drain()
    assert code == 0, log
    assert "stopped cleanly" in log

    gate = subprocess.run(command("gate", "--json"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S)
    assert json.loads(gate.stdout)["reason"] == "operator: maintenance window"
    positions = json.loads(subprocess.run(command("positions", "--json"), cwd=tmp_path, env=env, capture_output=True,
                                          text=True, timeout=WAIT_S).stdout)
    assert positions and all(p["state"] != "pending_entry" for p in positions)
    # Without a service, resume applies directly.
    resume = subprocess.run(command("gate", "resume", "--reason", "done"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S)
    assert resume.returncode == 0 and "gate open: operator: done" in resume.stdout
