"""`quantum-trader run` as a real process: an inbox signal blocked during a halt stays blocked after the service
is killed and started again with the gate resumed, and is never traded (issue 10, item 8)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from scripts.service_process import ServiceProcess, command
from tests.actors.harness import WIDE_STOPS

WAIT_S = 90

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "QT_DATABASE__URL": f"sqlite:///{tmp_path / 'live.db'}",
        "QT_FEED__SYNTHETIC_SPEED": "20",
        "QT_EXIT_MODES": json.dumps(WIDE_STOPS),
        "QT_SIGNALS__BUILTIN": "false",
        "QT_SIGNALS__INBOX": str(tmp_path / "inbox.jsonl"),
    }


def cli(tmp_path: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(command(*args), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S)
    assert result.returncode == 0, result.stderr
    return result.stdout


def send(inbox: Path, signal_id: str) -> None:
    with inbox.open("a") as handle:
        handle.write(json.dumps({"id": signal_id, "symbol": "BTCUSDT", "side": "LONG", "confidence": 0.9}) + "\n")


def kill(service: ServiceProcess) -> None:
    """SIGKILL: no graceful stop, nothing saved on the way out."""
    service.process.kill()
    service.process.wait(timeout=WAIT_S)
    while (line := service.lines.get(timeout=WAIT_S)) is not None:
        service.log.append(line)


def test_inbox_signal_blocked_during_halt_stays_blocked_after_kill_and_restart_and_is_never_traded(
    tmp_path: Path, env: dict[str, str]
) -> None:
    inbox = tmp_path / "inbox.jsonl"
    first = ServiceProcess(("run",), tmp_path, env, wait_s=WAIT_S)
    try:
        first.wait_for("PAPER TRADING")
        assert "applied by the running service" in cli(tmp_path, env, "gate", "halt", "--reason", "maintenance")
        send(inbox, "held-1")
        first.wait_for("inbox signal held-1 (line 1): BLOCKED_BY_GATE")
    finally:
        kill(first)
    assert "gate open" in cli(tmp_path, env, "gate", "resume", "--reason", "done")  # applied directly: no service

    second = ServiceProcess(("run",), tmp_path, env, wait_s=WAIT_S)
    try:
        second.wait_for("PAPER TRADING")
        send(inbox, "after-1")  # behind held-1 in the file: once it is decided, held-1 was passed
        second.wait_for("inbox signal after-1 (line 2): ")
    finally:
        code = second.stop()
    log = "".join(second.log)
    assert code == 0, log
    assert "held-1" not in log  # not judged again, not even reported as a reused id

    with sqlite3.connect(f"file:{tmp_path / 'live.db'}?mode=ro", uri=True) as connection:
        decisions = connection.execute("SELECT signal_id, reason FROM signal_decisions ORDER BY id").fetchall()
        held_positions = connection.execute("SELECT id FROM positions WHERE signal_id = 'held-1'").fetchall()
    assert [reason for sid, reason in decisions if sid == "held-1"] == ["BLOCKED_BY_GATE"]
    assert len([reason for sid, reason in decisions if sid == "after-1"]) == 1
    assert held_positions == []
