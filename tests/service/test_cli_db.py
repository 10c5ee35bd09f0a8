"""`quantum-trader db upgrade`: one instance per database, so never beside a running service."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from persistence.db import sqlite_url
from scripts.service_process import command
from service.cli import app
from service.lock import InstanceLock, lock_path

runner = CliRunner()


def test_db_upgrade_beside_a_running_service_is_refused_with_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    with InstanceLock(sqlite_url(db)):  # what `run` holds for its whole life
        result = runner.invoke(app, ["db", "upgrade", "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert f"another Quantum Trader (pid {os.getpid()}) is running on this database" in result.stderr
    assert "stop it first" in result.stderr
    assert not db.exists()  # refused before the database was touched


def test_db_upgrade_holds_the_instance_lock_and_releases_it(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    result = runner.invoke(app, ["db", "upgrade", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "database at revision" in result.stdout
    path = lock_path(sqlite_url(db))
    assert path is not None and path.read_text() == str(os.getpid())  # the lock's holder wrote its pid
    with InstanceLock(sqlite_url(db)):  # released: a service can start
        pass


def test_db_upgrade_in_a_missing_directory_is_one_message_and_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--db", str(tmp_path / "absent" / "live.db")])
    assert result.exit_code == 2, result.output
    assert "absent: cannot hold the instance lock" in result.stderr  # exit 2, not the 1 of an uncaught error


def test_run_in_a_missing_directory_is_one_message_and_exit_2(tmp_path: Path) -> None:
    run = subprocess.run(
        command("run", "--db", str(tmp_path / "absent" / "live.db")),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert run.returncode == 2, run.stderr
    assert "absent: no such directory" in " ".join(run.stderr.split()) and "Traceback" not in run.stderr


@pytest.mark.parametrize(
    "args", [["db", "upgrade"], ["status"], ["positions"], ["transitions"], ["gate", "halt", "--reason", "x"]]
)
def test_unreachable_database_error_never_shows_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # a server database's instance lock file lives in the working directory
    env = {"QT_DATABASE__URL": "postgresql+psycopg://user:s3cret@127.0.0.1:1/test"}  # nothing listens on port 1
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 2, result.output
    assert "Connection refused" in result.stderr
    assert "s3cret" not in result.output
