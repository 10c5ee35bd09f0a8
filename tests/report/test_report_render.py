"""The report built from a real, migrated SQLite file and written as Markdown, JSON and PNG."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from config.settings import Settings
from persistence.db import DatabaseUnavailable, make_engine, sqlite_url
from persistence.migrate import upgrade
from persistence.tables import EQUITY_SNAPSHOTS, POLICY_SNAPSHOTS, POSITIONS, SIGNAL_DECISIONS, TRANSITIONS
from service.report import (
    GENERATED_AT,
    InputFile,
    RunInfo,
    build_report,
    settings_summary,
    write_comparison,
    write_report,
)
from service.report.collect import reason_key

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = 1_640_995_200_000  # 2022-01-01T00:00:00Z
HOUR = 3_600_000
DAY = 24 * HOUR


def _position(
    index: int,
    state: str,
    *,
    pnl: str = "0",
    fees: str = "0",
    opened: int | None = None,
    closed: int | None = None,
    details: str = "{}",
) -> dict[str, Any]:
    return {
        "id": f"pos-{index}",
        "symbol": "BTCUSDT" if index % 2 else "ETHUSDT",
        "side": "LONG",
        "state": state,
        "seq": 3,
        "client_order_id": f"qt-e-{index}",
        "quantity": "0.010",
        "filled_quantity": "0.010",
        "entry_price": "47000.5",
        "exit_price": "47500.1" if closed else None,
        "stop_price": "46000",
        "take_profit_price": "49000",
        "realized_pnl": pnl,
        "fees": fees,
        "exit_mode": "FAST_TP",
        "signal_id": f"sig-{index}",
        "close_reason": "take profit" if closed else None,
        "created_at": (opened or T0) - 1000,
        "opened_at": opened,
        "closed_at": closed,
        "details": details,
    }


def _gate(seq: int, at: int, source: str, dest: str, trigger: str, reason: str) -> dict[str, Any]:
    return {
        "machine": "gate",
        "entity_id": "global",
        "seq": seq,
        "source": source,
        "dest": dest,
        "trigger": trigger,
        "reason": reason,
        "payload": "{}",
        "at": at,
    }


def _decision(index: int, reason: str) -> dict[str, Any]:
    return {
        "signal_id": f"sig-{index}",
        "at": T0 + index * HOUR,
        "symbol": "BTCUSDT",
        "side": "LONG",
        "confidence": 0.7,
        "source": "builtin",
        "reason": reason,
        "detail": "",
        "position_id": None,
    }


def _make_database(path: Path, *, with_orchestrator: bool) -> str:
    url = sqlite_url(path)
    engine = make_engine(url)
    upgrade(engine)
    equity = [("10000", 0), ("10100", 6), ("10050", 30), ("9900", 40), ("10200", 54), ("10300", 70)]
    positions = [
        _position(
            1,
            "closed",
            pnl="120.5",
            fees="3.2",
            opened=T0 + HOUR,
            closed=T0 + 5 * HOUR,
            details='{"risk_per_unit": "5000"}',
        ),
        _position(2, "closed", pnl="-80", fees="2.8", opened=T0 + 20 * HOUR, closed=T0 + 30 * HOUR),
        _position(3, "closed", pnl="10", fees="1", opened=T0 + 50 * HOUR, closed=T0 + 52 * HOUR),
        _position(4, "open", opened=T0 + 60 * HOUR),
        _position(5, "rejected"),
    ]
    decisions = [_decision(i, "ACCEPTED") for i in range(1, 5)]
    transitions = []
    if with_orchestrator:
        decisions += [
            _decision(10, "BLOCKED_BY_GATE"),
            _decision(11, "BLOCKED_BY_GATE"),
            _decision(12, "BLOCKED_BY_CONFIDENCE"),
        ]
        transitions = [
            _gate(1, T0 + 35 * HOUR, "open", "locked", "lock", "Daily DD limit hit (-2.61%)"),
            _gate(2, T0 + 48 * HOUR, "locked", "open", "unlock", "next UTC day"),
            _gate(3, T0 + 55 * HOUR, "open", "paused", "pause", "Max open positions reached (5/5)"),
            _gate(4, T0 + 56 * HOUR, "paused", "open", "clear", "Conditions clear"),
            _gate(5, T0 + 57 * HOUR, "open", "paused", "pause", "Max open positions reached (6/5)"),
        ]
    with engine.begin() as connection:
        connection.execute(insert(POSITIONS), positions)
        connection.execute(
            insert(EQUITY_SNAPSHOTS),
            [
                {
                    "at": T0 + hours * HOUR,
                    "equity": value,
                    "wallet": value,
                    "unrealized_pnl": "0",
                    "day_start_equity": "10000",
                    "daily_drawdown_pct": 0.0,
                }
                for value, hours in equity
            ],
        )
        connection.execute(insert(SIGNAL_DECISIONS), decisions)
        connection.execute(
            insert(POLICY_SNAPSHOTS),
            [
                {"at": T0 + i * HOUR, "enforced": with_orchestrator, "policy": "{}", "inputs": "{}", "note": "n"}
                for i in range(3)
            ],
        )
        if transitions:
            connection.execute(insert(TRANSITIONS), transitions)
    engine.dispose()
    return url


def _run_info(label: str, *, enable_orchestrator: bool = True) -> RunInfo:
    settings = Settings(orchestrator={"flags": {"enable_orchestrator": enable_orchestrator}})
    return RunInfo(
        label=label,
        settings=settings_summary(settings),
        candles_processed=4321,
        inputs=(
            InputFile(path="data/BTCUSDT_1h.csv", symbol="BTCUSDT", rows=2200, bad_rows={"non_numeric": 2}),
            InputFile(
                path="data/ETHUSDT_1h.json", symbol="ETHUSDT", rows=2124, bad_rows={"out_of_order": 1, "non_numeric": 1}
            ),
        ),
    )


@pytest.fixture
def enabled_url(tmp_path: Path) -> str:
    return _make_database(tmp_path / "enabled.db", with_orchestrator=True)


@pytest.fixture
def baseline_url(tmp_path: Path) -> str:
    return _make_database(tmp_path / "baseline.db", with_orchestrator=False)


def test_write_report_files_exist_and_trades_match_closed_positions(enabled_url: str, tmp_path: Path):
    files = write_report(build_report(enabled_url, run_info=_run_info("orchestrator")), tmp_path / "out")
    assert files.markdown.is_file() and files.json.is_file()
    assert files.png.read_bytes().startswith(PNG_SIGNATURE)
    data = json.loads(files.json.read_text())
    engine = make_engine(enabled_url)
    with engine.connect() as connection:
        closed = connection.execute(
            select(func.count()).select_from(POSITIONS).where(POSITIONS.c.state == "closed")
        ).scalar_one()
    engine.dispose()
    assert len(data["trades"]) == data["metrics"]["trades"] == closed == 3
    markdown = files.markdown.read_text()
    assert "# Replay report: orchestrator" in markdown and "](equity.png)" in markdown


def test_build_report_trades_carry_exact_money_times_and_exit_details(enabled_url: str):
    trades = build_report(enabled_url, run_info=_run_info("x")).to_dict()["trades"]
    first = trades[0]
    assert first == {
        "id": "pos-1",
        "symbol": "BTCUSDT",
        "side": "LONG",
        "entry_price": "47000.5",
        "exit_price": "47500.1",
        "quantity": "0.010",
        "realized_pnl": "120.5",
        "fees": "3.2",
        "net_pnl": "117.3",
        "r_multiple": 2.346,
        "opened_at": "2022-01-01T01:00:00.000Z",
        "closed_at": "2022-01-01T05:00:00.000Z",
        "close_reason": "take profit",
        "exit_mode": "FAST_TP",
    }
    assert [t["id"] for t in trades] == ["pos-1", "pos-2", "pos-3"]


def test_build_report_counts_gate_events_decisions_and_bad_rows(enabled_url: str):
    data = build_report(enabled_url, run_info=_run_info("x")).to_dict()
    assert data["gate_events"]["total"] == 5
    by_reason = {(g["trigger"], g["reason"]): g["count"] for g in data["gate_events"]["by_reason"]}
    assert by_reason[("pause", "Max open positions reached")] == 2
    assert by_reason[("lock", "Daily DD limit hit")] == 1
    assert data["decisions"]["by_reason"] == {"ACCEPTED": 4, "BLOCKED_BY_CONFIDENCE": 1, "BLOCKED_BY_GATE": 2}
    assert data["database"]["policy_snapshots"] == 3
    assert data["inputs"]["bad_rows"] == {"non_numeric": 3, "out_of_order": 1}
    assert data["inputs"]["bad_rows_total"] == 4 and data["inputs"]["rows"] == 4324
    assert data["settings"]["profile"] == "SAFE" and data["settings"]["mode"] == "LIVE"
    assert data["code_version"]["package"] == "0.1.0" and data["code_version"]["commit"]


def test_build_report_metrics_from_the_database(enabled_url: str):
    metrics = build_report(enabled_url, run_info=_run_info("x")).to_dict()["metrics"]
    assert (metrics["wins"], metrics["losses"]) == (2, 1)
    assert metrics["net_pnl"] == pytest.approx(120.5 + -80 + 10 - 7.0)
    assert metrics["max_drawdown"] == pytest.approx(200.0)  # 10100 -> 9900
    assert metrics["start_equity"] == 10000 and metrics["end_equity"] == 10300
    assert metrics["sharpe_days"] == 3
    assert metrics["average_r"] == pytest.approx(2.346)


def test_build_report_twice_json_identical_apart_from_generated_at(enabled_url: str, tmp_path: Path):
    first = write_report(
        build_report(enabled_url, run_info=_run_info("x"), generated_at=datetime(2026, 1, 1, tzinfo=UTC)),
        tmp_path / "a",
    )
    second = write_report(
        build_report(enabled_url, run_info=_run_info("x"), generated_at=datetime(2026, 1, 2, tzinfo=UTC)),
        tmp_path / "b",
        timing={"elapsed_s": 1.25},
    )
    a_lines, b_lines = first.json.read_text().splitlines(), second.json.read_text().splitlines()
    differing = [(a, b) for a, b in zip(a_lines, b_lines, strict=True) if a != b]
    assert len(differing) == 1 and f'"{GENERATED_AT}"' in differing[0][0]
    assert second.timing is not None and json.loads(second.timing.read_text()) == {"elapsed_s": 1.25}


def test_build_report_leaves_the_database_untouched(enabled_url: str, tmp_path: Path):
    path = tmp_path / "enabled.db"
    before = path.read_bytes()
    build_report(enabled_url, run_info=_run_info("x"))
    assert path.read_bytes() == before


def test_build_report_missing_database_raises(tmp_path: Path):
    with pytest.raises(DatabaseUnavailable):
        build_report(sqlite_url(tmp_path / "absent.db"), run_info=RunInfo())
    assert not (tmp_path / "absent.db").exists()


def test_write_report_empty_database_still_writes_every_file(tmp_path: Path):
    url = sqlite_url(tmp_path / "empty.db")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    files = write_report(build_report(url, run_info=RunInfo()), tmp_path / "out")
    data = json.loads(files.json.read_text())
    assert data["trades"] == [] and data["metrics"]["sharpe"] == 0.0
    assert files.png.read_bytes().startswith(PNG_SIGNATURE)


def test_write_comparison_shows_both_runs(enabled_url: str, baseline_url: str, tmp_path: Path):
    enabled = build_report(enabled_url, run_info=_run_info("orchestrator"))
    baseline = build_report(baseline_url, run_info=_run_info("baseline", enable_orchestrator=False))
    files = write_comparison(enabled, baseline, tmp_path / "cmp")
    assert files.png.read_bytes().startswith(PNG_SIGNATURE)
    data = json.loads(files.json.read_text())
    assert set(data["runs"]) == {"enabled", "baseline"}
    assert data["metrics"]["trades"] == {"enabled": 3, "baseline": 3, "difference": 0}
    assert data["decisions_by_reason"]["BLOCKED_BY_GATE"] == {"enabled": 2, "baseline": 0}
    assert data["runs"]["enabled"]["gate_events_total"] == 5 and data["runs"]["baseline"]["gate_events_total"] == 0
    assert data["settings_differences"]["flags.enable_orchestrator"] == {"enabled": True, "baseline": False}
    for name in ("enabled", "baseline"):
        assert (tmp_path / "cmp" / name / "report.json").is_file()
        assert (tmp_path / "cmp" / name / "equity.png").read_bytes().startswith(PNG_SIGNATURE)
    markdown = files.markdown.read_text()
    assert "enabled: orchestrator" in markdown and "baseline: baseline" in markdown
    assert data["runs"]["enabled"]["exit_modes"] == {
        "trades_by_mode": {"FAST_TP": 3},
        "changes": 0,
        "positions_changed": 0,
    }
    assert "| trades closed under FAST_TP | 3 | 3 |" in markdown


def test_build_report_r_multiple_from_recorded_money_risk(tmp_path: Path):
    url = sqlite_url(tmp_path / "r.db")
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(POSITIONS),
            [
                _position(
                    1, "closed", pnl="-40", fees="10", opened=T0, closed=T0 + HOUR, details='{"risk_at_stop": "25"}'
                ),
                _position(2, "closed", pnl="30", opened=T0, closed=T0 + HOUR, details='{"risk_per_unit": "0"}'),
            ],
        )
    engine.dispose()
    data = build_report(url, run_info=RunInfo()).to_dict()
    assert [t["r_multiple"] for t in data["trades"]] == [-2.0, None]
    assert data["metrics"]["average_r"] == -2.0 and data["metrics"]["trades_with_r"] == 1


def test_reason_key_drops_figures_keeps_causes():
    assert reason_key("Daily DD limit hit (-4.12%); EXTREME volatility") == "Daily DD limit hit; EXTREME volatility"
    assert reason_key("") == "(no reason)"


def test_build_report_counts_exit_modes_by_trade_and_mode_changes(enabled_url: str, tmp_path: Path):
    engine = make_engine(enabled_url)
    change = {"machine": "position", "trigger": "change_exit_mode", "payload": "{}", "reason": "exit mode a -> b"}
    with engine.begin() as connection:
        connection.execute(POSITIONS.update().where(POSITIONS.c.id == "pos-2").values(exit_mode="DEFENSIVE_TRAIL"))
        connection.execute(
            insert(TRANSITIONS),
            [
                {**change, "entity_id": "pos-2", "seq": 4, "source": "open", "dest": "open", "at": T0 + 21 * HOUR},
                {**change, "entity_id": "pos-2", "seq": 5, "source": "open", "dest": "open", "at": T0 + 22 * HOUR},
                {**change, "entity_id": "pos-4", "seq": 4, "source": "open", "dest": "open", "at": T0 + 61 * HOUR},
            ],
        )
    engine.dispose()
    modes = build_report(enabled_url, run_info=_run_info("x")).to_dict()["exit_modes"]
    assert modes == {"trades_by_mode": {"DEFENSIVE_TRAIL": 1, "FAST_TP": 2}, "changes": 3, "positions_changed": 2}
    files = write_report(build_report(enabled_url, run_info=_run_info("x")), tmp_path / "out")
    text = files.markdown.read_text()
    assert "More defensive modes applied to open positions: 3 change(s) on 2 position(s)." in text
    assert "| DEFENSIVE_TRAIL | 1 |" in text
