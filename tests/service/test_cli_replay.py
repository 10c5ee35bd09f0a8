"""`quantum-trader replay`: the live actors over real candles, the report, and the baseline comparison."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from service.cli import app
from tests.conftest import SHARED_DATA

runner = CliRunner()
CANDLES = SHARED_DATA / "candles"
FTX = CANDLES / "ftx_BTCPERP_1m_20211231-20220201.csv"
BTC_1H = CANDLES / "binance_BTCUSDT_1h_20180407-20180428.csv"
ETH_1H = CANDLES / "binance_ETHUSDT_1h_20180624-20180716.csv"
ORCHESTRATOR_BLOCKS = {"BLOCKED_BY_GATE", "BLOCKED_BY_POLICY_FILTER", "BLOCKED_BY_CONFIDENCE"}


def replay(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["replay", *args])
    assert result.exit_code == 0, result.output
    return {"output": result.output}


def closed_positions(db: Path) -> int:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM positions WHERE state = 'closed'")).scalar_one()
    engine.dispose()
    return count


def without_timestamp(path: Path) -> dict:  # type: ignore[type-arg]
    data = json.loads(path.read_text())
    data.pop("generated_at")
    return data


def test_replay_ftx_writes_markdown_json_png_with_trades(ftx_comparison: Path) -> None:
    run = ftx_comparison / "enabled"
    report = json.loads((run / "report.json").read_text())
    assert (run / "report.md").read_text().startswith("#")
    assert (run / "equity.png").read_bytes().startswith(b"\x89PNG")
    assert report["metrics"]["trades"] > 0
    assert len(report["trades"]) == report["metrics"]["trades"] == closed_positions(ftx_comparison / "orchestrator.db")
    assert report["inputs"]["candles_processed"] == 45_031
    assert report["settings"]["profile"] == "SAFE" and report["code_version"]["package"]


def test_replay_ftx_report_shows_spread_and_realised_slippage_by_symbol(ftx_comparison: Path) -> None:
    for run in ("enabled", "baseline"):
        report = json.loads((ftx_comparison / run / "report.json").read_text())
        costs = report["costs"]
        assert (costs["max_spread_bps"], costs["max_slippage_bps"]) == (15.0, 20.0)
        (btc,) = costs["by_symbol"]
        assert btc["symbol"] == "BTCPERP" and btc["spread_bps"] == 0.0  # the paper market's default spread
        # Entries and stops are measured (market exits are not): the paper's 2 bps, give or take the tick and a gap.
        assert btc["fills"] >= report["metrics"]["trades"]
        assert 1.0 < btc["mean_bps"] < 5.0 and btc["worst_bps"] >= btc["mean_bps"]
        assert btc["over_cap"] == "" and btc["blocked_by_cost"] == 0
        assert "## Costs by symbol" in (ftx_comparison / run / "report.md").read_text()


def test_replay_symbol_quoted_above_the_spread_cap_never_trades_and_the_report_says_why(tmp_path: Path) -> None:
    config = tmp_path / "wide.toml"
    config.write_text('[exchange.paper]\nsymbol_spread_bps = { ETHUSDT = "20" }\n')
    replay("--data", str(BTC_1H), "--data", str(ETH_1H), "--out", str(tmp_path / "out"), "--config", str(config))
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    rows = {row["symbol"]: row for row in report["costs"]["by_symbol"]}
    assert list(rows) == ["BTCUSDT", "ETHUSDT"]
    assert rows["ETHUSDT"]["spread_bps"] == 20.0 and rows["ETHUSDT"]["over_cap"] == "spread 20.0 bps > 15.0 cap"
    assert rows["ETHUSDT"]["blocked_by_cost"] > 0 and rows["ETHUSDT"]["fills"] == 0
    assert not [t for t in report["trades"] if t["symbol"] == "ETHUSDT"]
    assert rows["BTCUSDT"]["over_cap"] == "" and rows["BTCUSDT"]["blocked_by_cost"] == 0
    assert rows["BTCUSDT"]["fills"] > 0


def test_compare_baseline_orchestrator_gates_and_blocks_baseline_does_not(ftx_comparison: Path) -> None:
    comparison = json.loads((ftx_comparison / "comparison.json").read_text())
    assert (ftx_comparison / "comparison.png").read_bytes().startswith(b"\x89PNG")
    assert "baseline" in (ftx_comparison / "comparison.md").read_text()
    enabled = json.loads((ftx_comparison / "enabled" / "report.json").read_text())
    baseline = json.loads((ftx_comparison / "baseline" / "report.json").read_text())
    assert enabled["gate_events"]["total"] > 0
    assert ORCHESTRATOR_BLOCKS & set(enabled["decisions"]["by_reason"])
    assert baseline["gate_events"]["total"] == 0
    assert not ORCHESTRATOR_BLOCKS & set(baseline["decisions"]["by_reason"])
    assert enabled["settings"]["enable_orchestrator"] is True and baseline["settings"]["enable_orchestrator"] is False
    assert comparison  # the pair in one file


def test_replay_two_symbols_merged_in_time_writes_reports_and_is_deterministic(tmp_path: Path) -> None:
    outputs = []
    for name in ("first", "second"):
        out = tmp_path / name
        replay("--data", str(BTC_1H), "--data", str(ETH_1H), "--out", str(out))
        outputs.append(out)
    first = without_timestamp(outputs[0] / "report.json")
    assert first == without_timestamp(outputs[1] / "report.json")
    assert (outputs[0] / "report.json").read_text().replace(
        json.loads((outputs[0] / "report.json").read_text())["generated_at"], ""
    ) == (outputs[1] / "report.json").read_text().replace(
        json.loads((outputs[1] / "report.json").read_text())["generated_at"], ""
    )
    assert first["metrics"]["trades"] > 0 and len(first["trades"]) == closed_positions(outputs[0] / "replay.db")
    assert {i["symbol"] for i in first["inputs"]["files"]} == {"BTCUSDT", "ETHUSDT"}
    assert (outputs[0] / "equity.png").exists() and (outputs[0] / "report.md").exists()


def test_replay_with_bad_rows_runs_to_the_end_and_counts_them(tmp_path: Path) -> None:
    lines = BTC_1H.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    t0, t1 = rows[10].split(",")[0], rows[20].split(",")[0]
    bad = [
        f"{t0},NaN,1,1,1,1",  # not a number
        "not,a,row",  # unparseable
        f"{int(rows[30].split(',')[0]) + 1},-5,-4,-6,-5,10",  # non-positive price
        rows[20],  # a duplicate time
        f"{t1},100,90,110,95,1",  # high < low, repaired
    ]
    body = rows[:25] + bad + rows[25:]
    path = tmp_path / "binance_BTCUSDT_1h_bad.csv"
    path.write_text("\n".join([header, *body]) + "\n")
    replay("--data", str(path), "--out", str(tmp_path / "out"))
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    counted = report["inputs"]["bad_rows"]
    assert sum(counted.values()) >= 4, counted
    assert report["inputs"]["candles_processed"] >= len(rows) - 1


def test_replay_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "no such candle file" in result.stderr


@pytest.mark.parametrize("option", ["--from", "--to"])
@pytest.mark.parametrize("value", ["99999999999999999999", "999999999d", "soon"])
def test_replay_bad_from_or_to_is_a_clear_error(tmp_path: Path, option: str, value: str) -> None:
    result = runner.invoke(app, ["replay", "--data", str(BTC_1H), option, value, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "not a time: use ISO 8601" in result.stderr
    assert not (tmp_path / "out").exists()


def test_replay_on_postgresql_gives_the_figures_of_the_same_replay_on_sqlite(tmp_path: Path, pg_url: str) -> None:
    data = ("--data", str(BTC_1H), "--data", str(ETH_1H))
    replay(*data, "--out", str(tmp_path / "sqlite"))
    replay(*data, "--out", str(tmp_path / "postgresql"), "--db-url", pg_url)
    assert not list((tmp_path / "postgresql").glob("*.db")), "the run went to PostgreSQL, not to a SQLite file"
    on_sqlite = without_timestamp(tmp_path / "sqlite" / "report.json")
    on_postgresql = without_timestamp(tmp_path / "postgresql" / "report.json")
    assert on_sqlite["database"].pop("file") == "replay.db"
    assert "search_path" in on_postgresql["database"].pop("file")
    assert on_sqlite["metrics"]["trades"] > 0 and on_sqlite["decisions"]["total"] > 0
    assert on_sqlite["database"]["transitions"] > 0
    # Trades, PnL, decisions, transitions, gate events, costs: all of it, to the last digit.
    assert on_postgresql == on_sqlite
    engine = create_engine(pg_url)
    with engine.connect() as connection:
        closed = connection.execute(text("SELECT count(*) FROM positions WHERE state = 'closed'")).scalar_one()
    engine.dispose()
    assert closed == on_postgresql["metrics"]["trades"] == closed_positions(tmp_path / "sqlite" / "replay.db")


def test_replay_into_a_database_that_holds_a_run_is_refused(tmp_path: Path, pg_url: str) -> None:
    replay("--data", str(BTC_1H), "--to", "2018-04-10", "--out", str(tmp_path / "first"), "--db-url", pg_url)
    again = ["replay", "--data", str(BTC_1H), "--out", str(tmp_path / "second"), "--db-url", pg_url]
    result = runner.invoke(app, again)
    assert result.exit_code == 2, result.output
    assert "holds" in result.stderr and "a replay needs a database of its own" in result.stderr
    assert not (tmp_path / "second" / "report.json").exists()


def test_replay_db_url_with_compare_baseline_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["replay", "--data", str(BTC_1H), "--compare-baseline", "--db-url", "sqlite:///x.db", "--out", str(tmp_path)],
    )
    assert result.exit_code == 2 and "--compare-baseline makes two" in result.stderr
