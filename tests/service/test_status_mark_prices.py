"""`status` shows the Binance mark price beside the last close: the runner on the Binance feed against the fake
server on 127.0.0.1 writes it into its heartbeat, and a heartbeat without marks reads as before."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config import Settings
from persistence import records
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import Store
from scripts.fake_binance.fixtures import needs_shared_data
from scripts.fake_binance.server import FakeBinance
from service.cli import app
from service.runner import Runner
from state_machines import position_machine
from tests.conftest import position_values

MINUTE = 60_000
SYMBOL = "BTCUSDT"
WAIT_S = 20


class LogSeen(logging.Handler):
    """Set once a record containing `text` is logged."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.INFO)
        self.text, self.seen = text, threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


@pytest.fixture
def feed_live() -> Iterator[LogSeen]:
    """Set when the feed turns to the live stream: the runner has stepped through the whole warm-up by then."""
    logger = logging.getLogger("quantum_trader.feed")
    handler, level = LogSeen("live klines from the market stream"), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def open_position(db: Path, entry: str) -> None:
    engine = make_engine(f"sqlite:///{db}")
    store = Store(engine)
    machine = position_machine()
    position = store.create_position(machine, position_values(1, symbol=SYMBOL), reason="signal", at=1)
    store.fire(machine, position, "submit", reason="entry sent", at=2)
    store.fire(
        machine,
        position,
        "entry_filled",
        reason="filled",
        at=3,
        price=entry,
        changes={"entry_price": Decimal(entry), "filled_quantity": Decimal("0.010")},
    )
    store.close()
    engine.dispose()


def status(db: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["status", "--db", str(db), *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


@needs_shared_data
def test_status_binance_feed_shows_the_mark_price_beside_the_last_close(
    tmp_path: Path, fake_binance: FakeBinance, feed_live: LogSeen
) -> None:
    start = (int(time.time() * 1000) // MINUTE - 40) * MINUTE  # closed long ago: all of it is warm-up
    for index in range(20):
        price = Decimal(40000 + index)
        fake_binance.push_candle(
            SYMBOL, open_time=start + index * MINUTE, open=price, high=price + 5, low=price - 5, close=price + 1
        )
    db = tmp_path / "qt.db"
    settings = Settings(
        symbols=(SYMBOL,),
        database={"url": f"sqlite:///{db}"},
        feed={"kind": "binance"},
        exchange={"kind": "paper", "base_url": fake_binance.base_url},
        signals={"builtin": False, "inbox": str(tmp_path / "inbox.jsonl")},
    )
    runner = Runner(settings)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        assert feed_live.seen.wait(WAIT_S), "the feed did not go live"
        assert runner.feed is not None
        fake_binance.set_price(SYMBOL, "40123.45")
        assert runner.feed.wait_marks(lambda marks: marks.get(SYMBOL) == Decimal("40123.45"), timeout=WAIT_S)
    finally:
        runner.request_stop()
        thread.join(WAIT_S)
    assert not thread.is_alive()
    open_position(db, "40010")  # status reads; the position needs no running service

    report = json.loads(status(db, "--json"))
    assert report["marks"] == {SYMBOL: "40123.45000000"}
    [position] = report["positions"]
    assert (position["last_price"], position["mark_price"]) == ("40020.0", "40123.45000000")
    assert position["unrealized_pnl"] == "1.13"  # valued at the mark, as Binance does: (40123.45 - 40010) x 0.01
    table = status(db)
    assert re.search(r"┃ last +┃ mark +┃ unrealised PnL", table), table
    assert re.search(r"│ 40020\.0 +│ 40123\.45 +│ 1\.13 ", table), table


def test_status_heartbeat_without_marks_reads_as_before(tmp_path: Path) -> None:
    db = tmp_path / "qt.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with engine.begin() as connection:  # what every feed but Binance's writes, and what older versions wrote
        records.beat(connection, pid=1, started_at=1, at=2, version="0.1.0", prices={SYMBOL: "40020.0"})
    engine.dispose()
    open_position(db, "40010")

    report = json.loads(status(db, "--json"))
    assert report["marks"] == {}
    [position] = report["positions"]
    assert (position["last_price"], position["mark_price"], position["unrealized_pnl"]) == ("40020.0", None, "0.10")
    table = status(db)
    assert re.search(r"┃ last +┃ unrealised PnL", table) and "mark" not in table, table
