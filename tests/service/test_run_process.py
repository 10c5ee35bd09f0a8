"""`quantum-trader run` as a real process: trades on paper, one instance per database, clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from scripts.service_process import ServiceProcess, command
from tests.actors.harness import WIDE_STOPS

WAIT_S = 90


def Service(workdir: Path, env: dict[str, str]) -> ServiceProcess:
    return ServiceProcess(("run",), workdir, env, wait_s=WAIT_S)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "QT_DATABASE__URL": f"sqlite:///{tmp_path / 'live.db'}",
        "QT_FEED__SYNTHETIC_SPEED": "200",
        "QT_EXIT_MODES": json.dumps(WIDE_STOPS),
    }


def test_run_trades_on_paper_refuses_a_second_instance_and_stops_on_sigterm(
    tmp_path: Path, env: dict[str, str]
) -> None:
    service = Service(tmp_path, env)
    try:
        assert "PAPER TRADING" in service.wait_for("PAPER TRADING")
        opened = service.wait_for(": open (entry filled")
        assert "LONG" in opened or "SHORT" in opened

        second = subprocess.run(command("run"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S)
        assert second.returncode == 2
        assert "another Quantum Trader" in second.stderr and str(service.process.pid) in second.stderr
        upgrade = subprocess.run(
            command("db", "upgrade"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S
        )
        assert upgrade.returncode == 2 and f"(pid {service.process.pid}) is running" in upgrade.stderr

        status = subprocess.run(
            command("status", "--json"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S
        )
        report = json.loads(status.stdout)
        assert report["service"]["running"] is True and report["service"]["pid"] == service.process.pid

        halt = subprocess.run(
            command("gate", "halt", "--reason", "maintenance window [red]\x1b[31m"),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT_S,
        )
        assert halt.returncode == 0 and "applied by the running service" in halt.stdout
        assert "halted" in halt.stdout
        assert "operator: maintenance window [red]\\x1b[31m" in halt.stdout and "\x1b" not in halt.stdout
    finally:
        code = service.stop()
    log = "".join(service.log)
    assert code == 0, log
    assert "stopped cleanly" in log

    gate = subprocess.run(
        command("gate", "--json"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S
    )
    assert json.loads(gate.stdout)["reason"] == "operator: maintenance window [red]\x1b[31m"
    positions = json.loads(
        subprocess.run(
            command("positions", "--json"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S
        ).stdout
    )
    assert positions and all(p["state"] != "pending_entry" for p in positions)
    # Without a service, resume applies directly.
    resume = subprocess.run(
        command("gate", "resume", "--reason", "done"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert resume.returncode == 0 and "gate open: operator: done" in resume.stdout


def test_run_start_log_and_error_never_show_the_database_password(tmp_path: Path) -> None:
    """A PostgreSQL URL with a password, on a port where nothing listens: the service names the database in
    its start log and fails to reach it; neither line holds the password."""
    env = os.environ | {"QT_DATABASE__URL": "postgresql+psycopg://user:s3cret@127.0.0.1:1/test"}
    run = subprocess.run(command("run"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S)
    assert run.returncode == 1, run.stderr
    assert "database postgresql+psycopg://user:***@127.0.0.1:1/test" in run.stderr
    assert "the service stops: opening the database failed: the database answered: connection failed" in run.stderr
    assert "s3cret" not in run.stderr + run.stdout
    assert not [line for line in run.stderr.splitlines() if line.startswith(("Traceback", "╭"))], run.stderr
