"""One actor code path, two runtimes: the same replay on pykka threads and on the driver's one thread."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from actors.runtime import InlineRuntime, ThreadRuntime
from config import Settings
from service.inspection import parse_time
from service.replay import run_replay
from tests.conftest import SHARED_DATA

FTX = SHARED_DATA / "candles" / "ftx_BTCPERP_1m_20211231-20220201.csv"
TEN_DAYS = ("2021-12-31T00:00:00Z", "2022-01-10T00:00:00Z")
RECORDS = {
    "decisions": "SELECT signal_id, at, reason, detail, position_id, source FROM signal_decisions ORDER BY id",
    "positions": (
        "SELECT id, symbol, side, state, quantity, entry_price, exit_price, realized_pnl, close_reason, opened_at, "
        "closed_at FROM positions ORDER BY id"
    ),
    "transitions": "SELECT machine, entity_id, seq, source, dest, trigger, reason, payload, at FROM transitions "
    "ORDER BY id",
    "orders": "SELECT client_order_id, status, quantity, trigger_price FROM orders ORDER BY id",
    "policies": "SELECT at, enforced, policy, inputs, note FROM policy_snapshots ORDER BY id",
}


def _records(db_url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = create_engine(db_url)
    with engine.connect() as connection:
        records = {name: [tuple(row) for row in connection.execute(text(sql))] for name, sql in RECORDS.items()}
    engine.dispose()
    return records


def test_threads_and_one_thread_decide_and_trade_alike(tmp_path: Path) -> None:
    start, end = (parse_time(t, datetime.now(UTC)) for t in TEN_DAYS)
    runs = {
        kind: run_replay(
            [FTX], settings=Settings(), out_dir=tmp_path / kind, start_ms=start, end_ms=end, runtime=runtime
        )
        for kind, runtime in (("threads", ThreadRuntime()), ("inline", InlineRuntime()))
    }
    assert runs["threads"].candles == runs["inline"].candles == 13_019  # the file has gaps
    assert gc.get_freeze_count() == 0  # a replay keeps what it holds out of the collector's sight only while it runs
    threads, inline = (_records(run.db_url) for run in runs.values())
    for name in RECORDS:
        assert threads[name], f"the scenario produced no {name}"
        assert threads[name] == inline[name], name
    assert any(row[3] == "closed" for row in inline["positions"])
