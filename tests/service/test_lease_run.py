"""One account, one trader, as real `run` processes on one database (SQLite and PostgreSQL): the second exits 2
naming the owner, or waits as a standby and takes over when the owner is killed; an owner paused past its lease
while the standby takes over writes nothing when it resumes, and stops with the reason."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from persistence.db import open_read_only
from persistence.tables import TRANSITIONS
from scripts.failover.pausing import pause_outside_writes
from scripts.service_process import ServiceProcess, command
from tests.actors.harness import WIDE_STOPS

WAIT_S = 90


def _env(url: str) -> dict[str, str]:
    return os.environ | {
        "QT_DATABASE__URL": url,
        "QT_FEED__SYNTHETIC_SPEED": "20",
        "QT_EXIT_MODES": json.dumps(WIDE_STOPS),
        "QT_LEASE__SECONDS": "3",
        "QT_LEASE__RENEW_EVERY_S": "1",
    }


def _status(workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        command("status", "--json"), cwd=workdir, env=env, capture_output=True, text=True, timeout=WAIT_S
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_a_second_run_exits_2_or_stands_by_and_takes_over_when_the_owner_is_killed(
    tmp_path: Path, any_db_url: str
) -> None:
    env = _env(any_db_url)
    owner = ServiceProcess(("run",), tmp_path, env, wait_s=WAIT_S)
    standby: ServiceProcess | None = None
    try:
        owner.wait_for("first step done")
        refused = subprocess.run(command("run"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S)
        assert refused.returncode == 2, refused.stderr
        said = " ".join(refused.stderr.split())
        assert f"pid {owner.process.pid}" in said and "--standby" in said, said

        standby = ServiceProcess(("run", "--standby"), tmp_path, env, wait_s=WAIT_S)
        waiting = standby.wait_for("standby:")
        assert f"pid {owner.process.pid}" in waiting and "waiting to take over" in waiting
        lease = _status(tmp_path, env)["lease"]
        assert lease["owner"]["pid"] == owner.process.pid and lease["token"] == 1 and not lease["expired"]
        assert [s["pid"] for s in lease["standbys"]] == [standby.process.pid]

        owner.process.send_signal(signal.SIGKILL)
        owner.process.wait(timeout=WAIT_S)
        took = standby.wait_for("took the lease")
        assert "token 2, with its locks" in took and f"pid {owner.process.pid}" in took
        standby.wait_for("first step done")
        lease = _status(tmp_path, env)["lease"]
        assert lease["owner"]["pid"] == standby.process.pid and lease["token"] == 2 and lease["standbys"] == []
    finally:
        if owner.process.poll() is None:
            owner.process.kill()
        code = standby.stop() if standby is not None else None
    assert code == 0, "".join(standby.log if standby else [])
    assert "stopped cleanly" in "".join(standby.log)


def _pause_until_taken_over(owner: ServiceProcess, standby: ServiceProcess, database: Path) -> str:
    """SIGSTOP the owner, outside its write transactions (`pause_outside_writes`), until the standby takes over."""
    assert pause_outside_writes(owner.process.pid, database), "the owner was paused inside a write transaction"
    return standby.wait_for("took the lease", within_s=WAIT_S)


def test_an_owner_paused_past_its_lease_writes_nothing_when_it_resumes_and_stops(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'qt.db'}"
    env = _env(url) | {"QT_FEED__SYNTHETIC_SPEED": "4"}  # quieter: a pause seldom falls inside a commit
    owner = ServiceProcess(("run",), tmp_path, env, wait_s=WAIT_S)
    owner.wait_for("first step done")
    standby = ServiceProcess(("run", "--standby"), tmp_path, env, wait_s=WAIT_S)
    try:
        standby.wait_for("standby:")
        took = _pause_until_taken_over(owner, standby, tmp_path / "qt.db")
        assert "token 2" in took
        standby.wait_for("first step done")
        engine = open_read_only(url)
        with engine.connect() as connection:
            last_id = connection.execute(select(func.max(TRANSITIONS.c.id))).scalar_one()
        owner.process.send_signal(signal.SIGCONT)
        code = owner.wait()
        lost = "".join(owner.log)
        assert code == 4, lost
        assert "lost the lease" in lost and "writes and sends nothing more" in lost
        with engine.connect() as connection:
            fenced_writes = connection.execute(
                select(func.count()).where(TRANSITIONS.c.id > last_id, TRANSITIONS.c.lease_token != 2)
            ).scalar_one()
        engine.dispose()
        assert fenced_writes == 0
        report = _status(tmp_path, env)  # the heartbeat is the new owner's: the old one's last beat never landed
        assert report["service"]["pid"] == standby.process.pid and report["lease"]["token"] == 2
    finally:
        if owner.process.poll() is None:
            owner.process.send_signal(signal.SIGCONT)
            owner.process.kill()
        code = standby.stop()
    assert code == 0, "".join(standby.log)
