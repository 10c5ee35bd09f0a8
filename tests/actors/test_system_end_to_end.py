"""End to end through the real actors on virtual time, over a month of real BTC-PERP 1m candles."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from config import Settings
from persistence.db import sqlite_url
from service.replay import run_replay
from tests.conftest import SHARED_DATA

FTX = SHARED_DATA / "candles" / "ftx_BTCPERP_1m_20211231-20220201.csv"


def _rows(db_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(db_url)
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(text(sql))]
    engine.dispose()
    return rows


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory, ftx_comparison: Path) -> tuple[str, str]:
    assert FTX.exists(), f"needs ../shared/data beside the checkout: {FTX}"
    # The command line's run (shared with its tests) and one more here: the same replay twice.
    first = sqlite_url(ftx_comparison / "orchestrator.db")
    second = run_replay([FTX], settings=Settings(), out_dir=tmp_path_factory.mktemp("second"))
    assert second.candles == 45_031
    return first, second.db_url


def test_positions_close_through_every_kind_of_exit(two_runs: tuple[str, str]) -> None:
    db, _ = two_runs
    reasons = {r[0] for r in _rows(db, "SELECT close_reason FROM positions WHERE state = 'closed'")}
    assert {"stop-loss", "take-profit", "trailing stop"} <= reasons
    partials = _rows(db, "SELECT count(*) FROM transitions WHERE trigger = 'partial_take_profit'")[0][0]
    assert partials > 0
    # Every closed position went the documented way: created, submitted, filled, (partial,) closed.
    paths = _rows(
        db,
        "SELECT group_concat(trigger, '>') FROM (SELECT entity_id, trigger FROM transitions "
        "WHERE machine = 'position' ORDER BY entity_id, seq) GROUP BY entity_id",
    )
    assert all(p[0].startswith("create>submit>entry_filled>") for p in paths)


def test_same_replay_twice_gives_identical_decisions_and_trades(two_runs: tuple[str, str]) -> None:
    first, second = two_runs
    for sql in (
        "SELECT signal_id, at, reason, detail, position_id FROM signal_decisions ORDER BY id",
        (
            "SELECT id, symbol, side, state, quantity, entry_price, exit_price, realized_pnl, fees, close_reason, "
            "opened_at, closed_at FROM positions ORDER BY id"
        ),
        "SELECT machine, entity_id, seq, source, dest, trigger, reason, payload, at FROM transitions ORDER BY id",
        "SELECT client_order_id, status, quantity, trigger_price FROM orders ORDER BY id",
    ):
        rows = _rows(first, sql)
        assert rows and rows == _rows(second, sql)


def test_gate_and_policy_were_exercised_by_the_sell_off(two_runs: tuple[str, str]) -> None:
    db, _ = two_runs
    triggers = {r[0] for r in _rows(db, "SELECT trigger FROM transitions WHERE machine = 'gate'")}
    assert "pause" in triggers
    assert _rows(db, "SELECT count(*) FROM policy_snapshots")[0][0] > 1
