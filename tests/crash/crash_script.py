"""`scripts/crash_test.py` as a subprocess, and what every run of it must show: it traded, faults were injected,
the operator's halt was checked after a restart, and nothing was lost, sent twice, left unprotected or disagreed."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "crash_test.py"


@dataclass(frozen=True, slots=True)
class CrashRun:
    figures: dict[str, Any]
    progress: str  # the script's stderr
    evidence: str  # the script's own account of what differed, and the end of its progress


def run_crash_test(*args: str) -> CrashRun:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600, check=False
    )
    lines = result.stdout.strip().splitlines()
    assert lines, f"no output (exit code {result.returncode}):\n{result.stderr[-6000:]}"
    figures = json.loads(lines[-1])
    evidence = (
        "\n".join(figures["lost"] + figures["mismatch_details"] + figures["unprotected_details"] + figures["failures"])
        + "\n"
        + result.stderr[-6000:]
    )
    return CrashRun(figures=figures, progress=result.stderr, evidence=evidence)


def assert_survived(run: CrashRun, kills: int) -> None:
    figures, evidence = run.figures, run.evidence
    assert figures["kills"] == kills, evidence
    assert figures["orders"] > 0 and figures["positions"] > 0, evidence  # it really traded
    assert figures["halt_survived_checks"] > 0, evidence  # the operator's halt was checked after a restart
    assert figures["lost_positions"] == 0, evidence
    assert figures["duplicate_orders"] == 0, evidence
    assert figures["mismatches"] == 0, evidence
    assert sum(figures["faults"].values()) > 0 and figures["protection_checks"] > 0, evidence
    assert figures["unprotected"] == 0, evidence
    assert figures["requests_during_ban"] == 0, evidence
    assert not figures["failures"], evidence
    # Every kill armed came as armed or fell back to a plain kill, and says which.
    for mode, armed in figures["kill_modes"].items():
        assert figures["kills_as_armed"][mode] + figures["fallbacks"][mode] == armed, evidence
    in_rounds = sum(figures["kills_as_armed"][mode] for mode in ("order", "log", "time"))
    assert run.progress.count("-> as armed") == in_rounds, evidence


def assert_kills_landed(run: CrashRun) -> None:
    """The kills armed mid-order came as armed: an order kill at least (the seeds used arm one first), and of the order
    and log kills at most about one in five fell back."""
    landed, fell_back = run.figures["kills_as_armed"], run.figures["fallbacks"]
    assert landed["order"] >= 1, run.evidence
    assert 4 * (fell_back["order"] + fell_back["log"]) <= landed["order"] + landed["log"] + 1, run.evidence
