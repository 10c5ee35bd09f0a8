"""Two accounts in one PostgreSQL database, each in its own schema: two real `run --account` processes trade side by
side, and neither ever sees the other's positions, orders or transitions."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from scripts.service_process import ServiceProcess, command
from tests.actors.harness import WIDE_STOPS

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WAIT_S = 90
SYMBOLS = {"a": ("BTCUSDT", "ETHUSDT", "SOLUSDT"), "b": ("BNBUSDT", "XRPUSDT")}


@pytest.fixture
def schemas() -> Iterator[dict[str, str]]:
    """A schema name for each account, unique to the test; `run` makes them, the fixture drops them."""
    prefix = f"qt_{uuid.uuid4().hex[:12]}"
    names = {account: f"{prefix}_{account}" for account in SYMBOLS}
    admin = create_engine(PG_URL)
    try:
        admin.connect().close()
    except OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432 (scripts/test.sh starts it): {error.orig}")
    yield names
    with admin.begin() as connection:
        for name in names.values():
            connection.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
    admin.dispose()


def _settings_file(tmp_path: Path, schemas: dict[str, str]) -> Path:
    sections = "".join(
        f'[accounts.{account}]\nsymbols = {json.dumps(list(symbols))}\nschema = "{schemas[account]}"\n'
        for account, symbols in SYMBOLS.items()
    )
    path = tmp_path / "settings.toml"
    path.write_text(f'[database]\nurl = "{PG_URL}"\n[feed]\nsynthetic_speed = 200\n{sections}')
    return path


def _cli_json(tmp_path: Path, env: dict[str, str], *args: str) -> Any:
    result = subprocess.run(
        command(*args, "--json"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _rows(schema: str, query: str) -> set[Any]:
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        with engine.connect() as connection:
            return set(connection.execute(text(query)).scalars())
    finally:
        engine.dispose()


def test_two_accounts_on_one_database_trade_side_by_side_and_never_see_each_other(
    tmp_path: Path, schemas: dict[str, str]
) -> None:
    config = str(_settings_file(tmp_path, schemas))
    env = os.environ | {"QT_EXIT_MODES": json.dumps(WIDE_STOPS)}  # positions stay open while the test looks
    env.pop("QT_ACCOUNT", None)
    services = {
        account: ServiceProcess(("run", "--config", config, "--account", account), tmp_path, env, wait_s=WAIT_S)
        for account in SYMBOLS
    }
    try:
        for service in services.values():
            service.wait_for("running: every actor started")
        for account, service in services.items():
            opened = service.wait_for(": open (entry filled")
            assert opened.split(": open")[0].split()[-2] in SYMBOLS[account], opened

        seen: dict[str, dict[str, Any]] = {}
        for account, service in services.items():
            by_option = ("--config", config, "--account", account)
            status = _cli_json(tmp_path, env, "status", *by_option)
            assert status["service"]["running"] is True and status["service"]["pid"] == service.process.pid
            by_variable = env | {"QT_ACCOUNT": account}  # the same account, named by QT_ACCOUNT
            transitions = _cli_json(tmp_path, by_variable, "transitions", "--config", config)
            positions = _cli_json(tmp_path, env, "positions", *by_option)  # after: it holds every position seen there
            seen[account] = {"status": status, "positions": positions, "transitions": transitions}
    finally:
        codes = {account: service.stop() for account, service in services.items()}
    for account, service in services.items():
        log = "".join(service.log)
        assert codes[account] == 0, log
        assert "stopped cleanly" in log and "ERROR" not in log and "CRITICAL" not in log

    stored = {account: _rows(schema, "SELECT id FROM positions") for account, schema in schemas.items()}
    for account, view in seen.items():
        mine, theirs = stored[account], stored["b" if account == "a" else "a"]
        position_ids = {row["id"] for row in view["positions"]}
        assert position_ids, f"account {account} shows no position"
        assert position_ids <= mine and not position_ids & theirs
        assert {row["symbol"] for row in view["positions"]} <= set(SYMBOLS[account])
        assert {row["symbol"] for row in view["status"]["positions"]} <= set(SYMBOLS[account])
        entities = {row["entity_id"] for row in view["transitions"] if row["machine"] == "position"}
        assert entities and entities <= position_ids
        assert [row["machine"] for row in view["transitions"]].count("gate") >= 1  # its own gate, made at its start

        schema = schemas[account]  # its schema holds its own account's rows only, and its own migration history
        assert _rows(schema, "SELECT DISTINCT symbol FROM positions") <= set(SYMBOLS[account])
        ordered_for = _rows(schema, "SELECT DISTINCT position_id FROM orders")
        assert ordered_for and ordered_for <= mine and not ordered_for & theirs
        assert _rows(schema, "SELECT DISTINCT symbol FROM signal_decisions") <= set(SYMBOLS[account])
        moved = _rows(schema, "SELECT DISTINCT entity_id FROM transitions WHERE machine = 'position'")
        assert moved and moved <= mine and not moved & theirs
        assert len(_rows(schema, "SELECT version_num FROM alembic_version")) == 1


def test_account_whose_schema_was_never_made_is_one_clear_error(tmp_path: Path, schemas: dict[str, str]) -> None:
    config = str(_settings_file(tmp_path, schemas))
    result = subprocess.run(
        command("positions", "--config", config, "--account", "a"),
        cwd=tmp_path,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert result.returncode == 2
    assert f"no schema '{schemas['a']}' in this database" in result.stderr and "Traceback" not in result.stderr
    assert not _rows("public", f"SELECT nspname FROM pg_namespace WHERE nspname = '{schemas['a']}'")  # not made
