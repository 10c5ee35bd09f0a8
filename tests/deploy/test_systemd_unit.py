"""deploy/systemd/quantum-trader.service: `systemd-analyze verify` finds nothing to say, and the unit keeps the
promises the README makes (its own user, graceful stop in time, the host-wide account lock)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from actors.system import STEP_TIMEOUT_S
from scripts.service_process import command
from service.lock import account_lock_path
from service.notify.channel import CLOSE_WAIT_S

UNIT = Path(__file__).parents[2] / "deploy" / "systemd" / "quantum-trader.service"
TMPFILES = UNIT.with_name("quantum-trader-tmpfiles.conf")
INSTALLED = "/opt/quantum-trader/.venv/bin/quantum-trader"


def settings(unit: Path) -> dict[str, list[str]]:
    """Each key's values in the order written (a key may be given more than once)."""
    found: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def verify(unit_text: str, tmp_path: Path) -> str:
    """`systemd-analyze verify` on the unit with ExecStart pointing at this checkout's command (verify checks that
    the program exists); what it printed."""
    program = command("run")[0]
    if not Path(program).is_file():
        pytest.skip("the quantum-trader console script is not installed in this environment")
    unit = tmp_path / "quantum-trader.service"
    unit.write_text(unit_text.replace(INSTALLED, program))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    return f"{result.returncode}\n{result.stdout}{result.stderr}".strip()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed (no systemd)")
def test_systemd_unit_verifies_without_a_warning(tmp_path: Path) -> None:
    assert verify(UNIT.read_text(), tmp_path) == "0"
    broken = verify(UNIT.read_text().replace("Restart=on-failure", "Restart=sometimes"), tmp_path)
    assert "restart specifier" in broken  # the check can fail: a bad value is reported


def test_systemd_unit_runs_as_its_own_user_and_restarts_on_failure_only() -> None:
    unit = settings(UNIT)
    assert unit["User"] == ["quantum-trader"] and unit["Restart"] == ["on-failure"]
    assert unit["ExecStart"] == [f"{INSTALLED} run --config /etc/quantum-trader/settings.toml"]
    assert unit["EnvironmentFile"] == ["/etc/quantum-trader/env"]
    assert unit["RestartPreventExitStatus"] == ["2"]  # a refusal: restarting repeats it


def test_systemd_unit_waits_longer_than_the_graceful_stop() -> None:
    assert float(settings(UNIT)["TimeoutStopSec"][0]) > STEP_TIMEOUT_S + CLOSE_WAIT_S


def test_systemd_unit_hardening_keeps_the_database_and_the_host_wide_lock_writable() -> None:
    unit = settings(UNIT)
    assert unit["NoNewPrivileges"] == ["yes"] and unit["ProtectSystem"] == ["strict"]
    writable = {path for value in unit["ReadWritePaths"] for path in value.split()}
    assert {unit["WorkingDirectory"][0], "/tmp"} <= writable
    assert unit["PrivateTmp"] == ["no"]  # a private /tmp per unit would hide the account lock from other units
    lock_dir = account_lock_path("any").parent
    assert lock_dir.name == "quantum-trader-locks"
    assert TMPFILES.read_text().splitlines()[-1] == f"x /tmp/{lock_dir.name}"
