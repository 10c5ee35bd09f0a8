"""`quantum-trader run` as a real process on PostgreSQL: real epoch-millisecond times, a heartbeat, a clean stop."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from scripts.service_process import ServiceProcess, command
from tests.actors.harness import WIDE_STOPS

WAIT_S = 90


def _cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S)


def _status(tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    result = _cli(tmp_path, env, "status", "--json")
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_run_on_postgresql_beats_trades_and_stops_cleanly(tmp_path: Path, pg_url: str) -> None:
    env = os.environ | {
        "QT_DATABASE__URL": pg_url,
        "QT_FEED__SYNTHETIC_SPEED": "200",
        "QT_EXIT_MODES": json.dumps(WIDE_STOPS),
    }
    upgrade = _cli(tmp_path, env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    started_ms = int(time.time() * 1000)
    service = ServiceProcess(("run",), tmp_path, env, wait_s=WAIT_S)
    try:
        service.wait_for("running: every actor started")
        deadline = time.monotonic() + WAIT_S
        while (report := _status(tmp_path, env))["service"]["pid"] != service.process.pid:
            assert time.monotonic() < deadline, f"no heartbeat from pid {service.process.pid}: {report['service']}"
        assert report["service"]["running"] is True
        opened = service.wait_for(": open (entry filled")
        assert "LONG" in opened or "SHORT" in opened
    finally:
        code = service.stop()
    log = "".join(service.log)
    assert code == 0, log
    assert "stopped cleanly" in log and "ERROR" not in log and "CRITICAL" not in log

    after = _status(tmp_path, env)
    assert after["service"]["running"] is False and after["service"]["pid"] == service.process.pid
    engine = create_engine(pg_url)
    try:
        with engine.connect() as connection:
            beat_at = connection.execute(text("SELECT at FROM heartbeat")).scalar_one()
            gate_at = connection.execute(text("SELECT updated_at FROM gate")).scalar_one()
            opened_at = connection.execute(text("SELECT min(opened_at) FROM positions")).scalar_one()
    finally:
        engine.dispose()
    assert started_ms <= gate_at <= opened_at <= beat_at <= int(time.time() * 1000)
