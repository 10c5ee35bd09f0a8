"""`quantum-trader run` as a real process when its database fails under it: one clear line, a graceful stop,
exit code 1, and no traceback on the console."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from scripts.service_process import ServiceProcess

WAIT_S = 90


def test_run_database_locked_by_another_program_stops_with_one_line_and_exit_1(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    env = os.environ | {"QT_DATABASE__URL": f"sqlite:///{db}", "QT_FEED__SYNTHETIC_SPEED": "200"}
    service = ServiceProcess(("run",), tmp_path, env, wait_s=WAIT_S)
    try:
        service.wait_for("running: every actor started")
        other = sqlite3.connect(db, timeout=WAIT_S, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")  # another program holds the database: every write waits, then fails
            line = service.wait_for("the service stops:")
            other.execute("ROLLBACK")  # released once the service has said so: its graceful stop can write
        finally:
            other.close()
    finally:
        code = service.stop()
    log = "".join(service.log)
    assert code == 1, log
    assert "database is locked" in line and "no other program holds a lock on it" in line, line
    assert "stopped after the error above" in service.log[-1], log
    # Tracebacks of actor failures are logged indented, inside their record; none is printed on its own.
    assert not [row for row in service.log if row.startswith(("Traceback", "╭", "Exception in thread"))], log
    assert "service/runner.py" not in log and "service/cli_service.py" not in log, log
