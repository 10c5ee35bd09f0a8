"""The short failover bench for CI: `scripts/bench_failover.py --kills 3` as a subprocess (with a fencing round).

An owner and a standby run as real processes against the fake Binance server; the owner is SIGKILLed three times
at seeded random moments and paused once (SIGSTOP) past its lease, then resumed. The lease is shorter than the
default (6 s, renewed every 1.5 s) so the fencing round is quick. The bench's last stdout line is one JSON object;
every count must be zero, every takeover within 15 s, and the paused owner must have stopped with code 4.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.fake_binance.fixtures import needs_shared_data

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_failover.py"

pytestmark = [needs_shared_data, pytest.mark.slow]


def test_three_kills_and_a_pause_the_standby_takes_over_in_time_and_nothing_is_lost_or_fenced_through(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--kills", "3", "--seed", "1", "--lease-s", "6", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    assert lines, f"no output (exit code {result.returncode}):\n{result.stderr[-6000:]}"
    figures = json.loads(lines[-1])
    evidence = (
        "\n".join(figures["lost"] + figures["mismatch_details"] + figures["unprotected_details"] + figures["failures"])
        + "\n"
        + result.stderr[-6000:]
    )
    assert figures["kills"] == 3 and figures["fencing_rounds"] == 1, evidence
    assert [t["kind"] for t in figures["takeovers"]].count("kill") == 3, evidence
    assert figures["orders"] > 0 and figures["positions"] > 0, evidence  # it really traded
    assert figures["kills_as_armed"]["order"] >= 1, evidence  # the first round's order kill came mid-order
    assert "-> as armed" in result.stderr, evidence
    assert figures["takeover_max_s"] <= 15, evidence
    assert figures["fencing_takeover_max_s"] <= 15, evidence
    (fenced,) = figures["fencing"]
    assert fenced["exit_code"] == 4, evidence  # the resumed owner stopped, saying it lost the lease
    assert fenced["fenced_writes"] == 0 and fenced["orders_after_resume"] == [], evidence
    assert figures["fenced_writes"] == 0 and figures["fenced_orders"] == 0, evidence
    assert figures["lost_positions"] == 0, evidence
    assert figures["duplicate_orders"] == 0, evidence
    assert figures["mismatches"] == 0, evidence
    assert figures["unprotected"] == 0, evidence
    assert figures["requests_during_ban"] == 0, evidence
    assert not figures["failures"], evidence
    assert result.returncode == 0, evidence
