"""The short crash test for CI: `scripts/crash_test.py --kills 10` as a subprocess.

The service runs as a real process against the fake Binance server and is SIGKILLed ten
times at seeded random moments; after every recovery the script checks positions, client
order ids, open orders, the audit trail and the operator's halt. Its last stdout line is
one JSON object; the three counts that must be zero are asserted here, and the script's
own account of what differed is shown when one is not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.fake_binance.fixtures import needs_shared_data

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "crash_test.py"

pytestmark = [needs_shared_data, pytest.mark.slow]


def test_ten_sigkills_lose_nothing_duplicate_nothing_and_agree(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--kills", "10", "--seed", "1", "--workdir", str(tmp_path)],
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
    assert figures["kills"] == 10, evidence
    assert figures["orders"] > 0 and figures["positions"] > 0, evidence  # it really traded
    assert figures["halt_survived_checks"] > 0, evidence  # the operator's halt was checked after a restart
    assert figures["lost_positions"] == 0, evidence
    assert figures["duplicate_orders"] == 0, evidence
    assert figures["mismatches"] == 0, evidence
    assert sum(figures["faults"].values()) > 0 and figures["protection_checks"] > 0, evidence
    assert figures["unprotected"] == 0, evidence
    assert figures["requests_during_ban"] == 0, evidence
    assert not figures["failures"], evidence
