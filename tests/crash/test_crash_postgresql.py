"""The crash test on PostgreSQL: `scripts/crash_test.py --kills 4 --database-url <the local server>`.

The same service process, SIGKILLs and checks as the SQLite run beside it, with the service's database a fresh
schema that the script makes on the local server and drops once every check passed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from scripts.fake_binance.fixtures import needs_shared_data
from scripts.pg_schema import LOCAL_URL
from tests.crash.crash_script import assert_kills_landed, assert_survived, run_crash_test

pytestmark = [needs_shared_data, pytest.mark.slow]


def test_four_sigkills_on_postgresql_lose_nothing_and_the_schema_is_dropped(tmp_path: Path) -> None:
    run = run_crash_test("--kills", "4", "--seed", "3", "--workdir", str(tmp_path), "--database-url", LOCAL_URL)
    assert_survived(run, kills=4)
    assert_kills_landed(run)
    named = re.search(r"database PostgreSQL schema (\w+)", run.progress)
    assert named is not None, run.evidence
    engine = create_engine(LOCAL_URL)
    try:
        with engine.connect() as connection:
            left = connection.execute(
                text("SELECT count(*) FROM pg_namespace WHERE nspname = :name"), {"name": named[1]}
            ).scalar_one()
    finally:
        engine.dispose()
    assert left == 0, f"schema {named[1]} was not dropped after a run that passed"
