"""`decisions` and `policy` through the CLI, on the database of a real replay."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from service.cli import app
from tests.conftest import SHARED_DATA

runner = CliRunner()
BTC_1H = SHARED_DATA / "candles" / "binance_BTCUSDT_1h_20180407-20180428.csv"


@pytest.fixture(scope="module")
def replay_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("replay")
    result = runner.invoke(app, ["replay", "--data", str(BTC_1H), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "replay.db"


def cli_json(*args: str) -> object:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def table_rows(db: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(text(sql))]
    engine.dispose()
    return rows


def test_decisions_json_lists_every_recorded_decision_oldest_first(replay_db: Path) -> None:
    decisions = cli_json("decisions", "--db", str(replay_db))
    assert isinstance(decisions, list)
    recorded = table_rows(replay_db, "SELECT id, reason FROM signal_decisions ORDER BY id")
    assert [(d["id"], d["reason"]) for d in decisions] == recorded
    assert {"ACCEPTED"} < {reason for _, reason in recorded}  # a replay that decided more than one way
    assert set(decisions[0]) == {
        "id", "at", "signal_id", "symbol", "side", "confidence", "source", "reason", "detail", "position_id"
    }  # fmt: skip


def test_decisions_filters_by_reason_in_any_case_symbol_time_and_limit(replay_db: Path) -> None:
    every = cli_json("decisions", "--db", str(replay_db))
    assert isinstance(every, list)
    reason = Counter(d["reason"] for d in every).most_common(1)[0][0]
    by_reason = cli_json("decisions", "--db", str(replay_db), "--reason", reason.lower())
    assert by_reason == [d for d in every if d["reason"] == reason]
    assert cli_json("decisions", "--db", str(replay_db), "--symbol", "ethusdt") == []
    middle = every[len(every) // 2]["at"]
    assert cli_json("decisions", "--db", str(replay_db), "--since", middle) == [d for d in every if d["at"] >= middle]
    assert cli_json("decisions", "--db", str(replay_db), "--limit", "3") == every[-3:]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--reason", "BLOCKED", "'BLOCKED' is not a decision reason: one of ACCEPTED, BLOCKED_BY_GATE"),
        ("--since", "last tuesday", "'last tuesday' is not a time: use ISO 8601"),
    ],
)
def test_decisions_bad_reason_or_time_is_one_clear_error(
    replay_db: Path, option: str, value: str, message: str
) -> None:
    result = runner.invoke(app, ["decisions", "--db", str(replay_db), option, value])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def test_policy_shows_the_last_recorded_and_history_every_one(replay_db: Path) -> None:
    recorded = table_rows(replay_db, "SELECT id, policy, note FROM policy_snapshots ORDER BY id")
    current = cli_json("policy", "--db", str(replay_db))
    assert isinstance(current, dict)
    assert current["id"] == recorded[-1][0] and current["policy"] == json.loads(recorded[-1][1])
    assert current["note"] == recorded[-1][2] and isinstance(current["inputs"], dict)
    history = cli_json("policy", "--history", "--db", str(replay_db))
    assert isinstance(history, list) and [p["id"] for p in history] == [row[0] for row in recorded]
    assert "inputs" not in history[0]
    assert cli_json("policy", "--history", "--limit", "2", "--db", str(replay_db)) == history[-2:]


def test_policy_before_any_run_says_so(db_path: Path, engine: object) -> None:
    result = runner.invoke(app, ["policy", "--db", str(db_path)])
    assert result.exit_code == 0 and "No policy recorded yet" in result.stdout
    assert cli_json("policy", "--db", str(db_path)) is None


def test_decisions_on_a_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["decisions", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "error:" in result.stderr


def test_decisions_by_strategy_filter_and_breakdown(replay_db: Path) -> None:
    every = cli_json("decisions", "--db", str(replay_db))
    assert isinstance(every, list)
    assert {d["source"] for d in every} == {"builtin"}  # the replay ran the built-in strategy only
    assert cli_json("decisions", "--db", str(replay_db), "--strategy", "builtin") == every
    assert cli_json("decisions", "--db", str(replay_db), "--strategy", "inbox") == []
    result = runner.invoke(app, ["decisions", "--db", str(replay_db)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    counts = Counter(d["reason"] for d in every)
    line = next(line for line in result.stdout.splitlines() if line.startswith("builtin: "))
    assert line.startswith(f"builtin: {len(every)} (")
    for reason, count in counts.items():
        assert f"{reason} {count}" in line
