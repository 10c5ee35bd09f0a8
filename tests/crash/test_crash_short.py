"""The short crash test for CI: `scripts/crash_test.py --kills 10` as a subprocess.

The service runs as a real process against the fake Binance server and is SIGKILLed ten
times at seeded random moments; after every recovery the script checks positions, client
order ids, open orders, the audit trail and the operator's halt. Its last stdout line is
one JSON object; the counts that must be zero are asserted here, and the script's own
account of what differed is shown when one is not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.fake_binance.fixtures import needs_shared_data
from tests.crash.crash_script import assert_kills_landed, assert_survived, run_crash_test

pytestmark = [needs_shared_data, pytest.mark.slow]


def test_ten_sigkills_lose_nothing_duplicate_nothing_and_agree(tmp_path: Path) -> None:
    run = run_crash_test("--kills", "10", "--seed", "1", "--workdir", str(tmp_path))
    assert_survived(run, kills=10)
    assert_kills_landed(run)
