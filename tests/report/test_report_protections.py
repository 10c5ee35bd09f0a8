"""The replay report counts the protections beyond the day, from a real, migrated SQLite file."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from actors.protections import Cooldown, floor_breach, max_drawdown_reason
from persistence.db import make_engine, sqlite_url
from persistence.migrate import upgrade
from persistence.tables import POLICY_SNAPSHOTS, SIGNAL_DECISIONS, TRANSITIONS
from service.report import RunInfo, build_report
from service.report.collect import collect
from service.report.protections import ProtectionCount
from service.report.render import render_markdown

T0 = 1_640_995_200_000  # 2022-01-01T00:00:00Z
HOUR = 3_600_000
DRAWDOWN = max_drawdown_reason(-0.1012, 0.10)
FLOOR = floor_breach(Decimal("95"), Decimal("100"))
BTC_COOLS = Cooldown("BTCUSDT", T0 + 10 * HOUR, 3, 24.0).describe()
ETH_COOLS = Cooldown("ETHUSDT", T0 + 12 * HOUR, 3, 24.0).describe()


def gate(seq: int, source: str, dest: str, trigger: str, reason: str) -> dict[str, Any]:
    return dict(
        machine="gate", entity_id="global", seq=seq, source=source, dest=dest, trigger=trigger, reason=reason,
        payload="{}", at=T0 + seq * HOUR,
    )  # fmt: skip


def decision(index: int, reason: str, detail: str) -> dict[str, Any]:
    return dict(
        signal_id=f"s{index}", at=T0 + index, symbol="BTCUSDT", side="LONG", confidence=0.7, source="builtin",
        reason=reason, detail=detail, position_id=None,
    )  # fmt: skip


def policy(at_hour: int, *cooling: tuple[str, str]) -> dict[str, Any]:
    body = json.dumps({"cooling_down": [list(pair) for pair in cooling]})
    return dict(at=T0 + at_hour * HOUR, enforced=True, policy=body, inputs="{}", note="")


def make_database(path: Path) -> str:
    url = sqlite_url(path)
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(TRANSITIONS),
            [
                gate(1, "open", "paused", "pause", FLOOR),
                gate(2, "paused", "paused", "pause", f"{FLOOR}; EXTREME volatility"),  # the floor still holds
                gate(3, "paused", "open", "clear", "conditions cleared: Conditions clear"),
                gate(4, "open", "paused", "pause", FLOOR),  # a second time
                gate(5, "paused", "halted", "halt", f"{DRAWDOWN}; {FLOOR}"),
                gate(6, "halted", "open", "resume", "operator: reviewed"),
            ],
        )
        connection.execute(
            insert(SIGNAL_DECISIONS),
            [
                decision(1, "BLOCKED_BY_GATE", f"gate halted: {DRAWDOWN}"),
                decision(2, "BLOCKED_BY_GATE", f"gate paused: {FLOOR}"),
                decision(3, "REJECTED_BY_SIZING", FLOOR),
                decision(4, "BLOCKED_BY_GATE", BTC_COOLS),
                decision(5, "BLOCKED_BY_GATE", "gate paused: EXTREME volatility"),
                decision(6, "ACCEPTED", "0.1 BTCUSDT LONG"),
            ],
        )
        connection.execute(
            insert(POLICY_SNAPSHOTS),
            [
                policy(1),
                policy(2, ("BTCUSDT", BTC_COOLS)),
                policy(3, ("BTCUSDT", BTC_COOLS), ("ETHUSDT", ETH_COOLS)),  # BTC still cooling: one start
                policy(4),
                policy(5, ("BTCUSDT", BTC_COOLS)),  # BTC again
            ],
        )
    engine.dispose()
    return url


def test_collect_counts_each_protection_once_per_time_it_engaged(tmp_path: Path) -> None:
    url = make_database(tmp_path / "replay.db")
    engine = make_engine(url)
    data = collect(engine)
    engine.dispose()
    assert data.protections == {
        "max_drawdown": ProtectionCount(engaged=1, signals_blocked=1),
        "equity_floor": ProtectionCount(engaged=2, signals_blocked=2),
        "cooldown": ProtectionCount(engaged=3, signals_blocked=1, by_symbol={"BTCUSDT": 2, "ETHUSDT": 1}),
    }


def test_report_json_and_markdown_show_the_protections(tmp_path: Path) -> None:
    report = build_report(make_database(tmp_path / "replay.db"), run_info=RunInfo())
    protections = report.to_dict()["protections"]
    assert protections["max_drawdown"] == {"engaged": 1, "signals_blocked": 1, "by_symbol": {}}
    assert protections["cooldown"]["by_symbol"] == {"BTCUSDT": 2, "ETHUSDT": 1}
    markdown = render_markdown(report)
    assert "## Protections beyond the day" in markdown
    assert "| max drawdown from the equity peak (halts) | 1 | 1 |" in markdown
    assert "| cool-down after stop-outs (symbols) | 3 (BTCUSDT 2, ETHUSDT 1) | 1 |" in markdown
