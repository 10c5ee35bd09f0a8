"""`replay --strategy/--param`: a user's strategy file replayed through the real actors, the report naming the
strategies and parameters it ran with figures by strategy, deterministic; `status` breaks figures down the same way."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from service.cli import app
from tests.conftest import SHARED_DATA
from tests.signals.strategy_files import jump_file

runner = CliRunner()
BTC_1H = SHARED_DATA / "candles" / "binance_BTCUSDT_1h_20180407-20180428.csv"
ETH_1H = SHARED_DATA / "candles" / "binance_ETHUSDT_1h_20180624-20180716.csv"


def body(path: Path) -> dict:  # type: ignore[type-arg]
    data = json.loads(path.read_text())
    data.pop("generated_at")
    return data


def test_replay_user_strategy_and_builtin_report_by_strategy_deterministic(tmp_path: Path) -> None:
    strategy = jump_file(tmp_path)
    args = ["--data", str(BTC_1H), "--data", str(ETH_1H), "--strategy", f"{strategy}:Jump", "--strategy", "builtin"]
    args += ["--param", "jump.jump=0.01", "--param", "builtin.fast=10"]
    reports = []
    for name in ("a", "b"):
        result = runner.invoke(app, ["replay", *args, "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        reports.append(body(tmp_path / name / "report.json"))
    report = reports[0]
    assert reports[1] == report  # the same candles, strategies and parameters: the same report
    ran = report["strategies"]["ran"]
    assert [(r["name"], r["spec"]) for r in ran] == [("jump", f"{strategy}:Jump"), ("builtin", "builtin")]
    assert ran[0]["params"] == {"jump": 0.01, "confidence": 0.9} and ran[1]["params"]["fast"] == 10
    assert report["settings"]["strategy_budget_ms"] == 0  # replays run without a time budget
    by_source = {row["source"]: row for row in report["strategies"]["by_source"]}
    assert set(by_source) <= {"jump", "builtin", "(no signal)"} and by_source["jump"]["signals"] > 0
    assert sum(row["closed_trades"] for row in by_source.values()) == report["metrics"]["trades"]
    assert sum(row["accepted"] for row in by_source.values()) == report["decisions"]["by_reason"]["ACCEPTED"]
    markdown = (tmp_path / "a" / "report.md").read_text()
    assert "## Strategies" in markdown and "jump [" in markdown and "jump=0.01" in markdown

    status = runner.invoke(app, ["status", "--db", str(tmp_path / "a" / "replay.db"), "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["strategies"] == report["strategies"]["by_source"]


def test_replay_bad_strategy_or_param_exit_2_before_running(tmp_path: Path) -> None:
    for extra, message in (
        (["--strategy", "sma_crossover", "--param", "sma_crossover.fast"], "write NAME.KEY=VALUE"),
        (["--strategy", "sma_crossover", "--param", "sma_crossover.fats=3"], "unknown parameter(s) fats"),
        (["--strategy", "sma_crossover", "--param", "breakout.lookback=3"], "parameters given for 'breakout'"),
        (["--strategy", f"{tmp_path}/none.py:X"], "no such file"),
    ):
        result = runner.invoke(app, ["replay", "--data", str(BTC_1H), *extra, "--out", str(tmp_path / "out")])
        assert result.exit_code == 2 and message in result.output, result.output
        assert not (tmp_path / "out" / "replay.db").exists()
