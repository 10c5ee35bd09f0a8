"""The replay report's limits in force over time, from the policy snapshots: the pure function, and the report's
section read from a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import insert

from persistence.db import make_engine, sqlite_url
from persistence.migrate import upgrade
from persistence.tables import EQUITY_SNAPSHOTS, POLICY_SNAPSHOTS
from service.report import RunInfo, build_report
from service.report.collect import jsonable
from service.report.limits import limits_over_time

T0 = 1_640_995_200_000  # 2022-01-01T00:00:00Z


def policy(max_open: int, mode: str = "FAST_TP", allow: bool = True) -> dict[str, object]:
    return {
        "allow_new_trades": allow,
        "max_open_positions": max_open,
        "max_risk_pct": 0.01,
        "min_confidence": 0.45,
        "exit_mode": mode,
        "risk_profile": "SAFE",
    }


def test_each_value_holds_until_the_next_snapshot_and_the_last_until_the_end() -> None:
    limits = limits_over_time([(0, policy(5)), (600, policy(4, "DEFENSIVE_TRAIL")), (800, policy(5))], end_at=1000)
    assert limits["max_open_positions"] == {"values": {"5": 0.8, "4": 0.2}, "changes": 2}
    assert limits["exit_mode"] == {"values": {"FAST_TP": 0.8, "DEFENSIVE_TRAIL": 0.2}, "changes": 2}
    assert limits["allow_new_trades"] == {"values": {"yes": 1.0}, "changes": 0}
    assert limits["max_risk_pct"]["values"] == {"0.01": 1.0}


def test_no_enforced_policy_means_no_limits_of_its_own() -> None:
    assert limits_over_time([], end_at=1000) == {}


def test_limits_over_time_reads_the_snapshots_once_in_order() -> None:
    snapshots = iter([(0, policy(5)), (100, policy(5)), (100, policy(3)), (400, policy(3, allow=False))])
    limits = limits_over_time(snapshots, end_at=1000)
    assert limits["max_open_positions"] == {"values": {"3": 0.9, "5": 0.1}, "changes": 1}
    assert limits["allow_new_trades"] == {"values": {"no": 0.6, "yes": 0.4}, "changes": 1}


def test_limits_over_time_last_snapshot_after_the_end_holds_for_no_time() -> None:
    limits = limits_over_time([(0, policy(5)), (1200, policy(4))], end_at=1000)
    assert limits["max_open_positions"] == {"values": {"5": 1.2, "4": 0.0}, "changes": 1}


def test_report_limits_streamed_from_the_database_equal_the_limits_of_every_snapshot(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "run.db")
    engine = make_engine(url)
    upgrade(engine)
    # More snapshots than one fetch brings, unenforced ones between them, the last policy after the last equity point.
    enforced = [(T0 + 60_000 * i, policy(3 + i % 4, ("FAST_TP", "DEFENSIVE_TRAIL")[i // 700 % 2])) for i in range(2500)]
    with engine.begin() as connection:
        connection.execute(
            insert(POLICY_SNAPSHOTS),
            [
                {"at": at, "enforced": on, "policy": json.dumps(body if on else policy(9)), "inputs": "{}", "note": ""}
                for at, body in enforced
                for on in (True, False)
            ],
        )
        connection.execute(
            insert(EQUITY_SNAPSHOTS),
            [
                {
                    "at": T0 + 60_000 * 2000,
                    "equity": "10000",
                    "wallet": "10000",
                    "unrealized_pnl": "0",
                    "day_start_equity": "10000",
                    "daily_drawdown_pct": 0.0,
                }
            ],
        )
    engine.dispose()
    report = build_report(url, run_info=RunInfo())
    assert report.body["limits_in_force"] == jsonable(limits_over_time(enforced, end_at=enforced[-1][0]))
