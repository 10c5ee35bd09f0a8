"""Spread from Binance's book tickers, through the runner and the actors to the policy and `status`: the real
python-binance client and WebSocket code against the fake server on 127.0.0.1, live (`--live`) on its account."""

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
from scripts.fake_binance.fixtures import TEST_KEY, TEST_SECRET, needs_shared_data
from scripts.fake_binance.server import FakeBinance
from service.cli import app
from service.runner import Runner

pytestmark = needs_shared_data
MINUTE = 60_000
SYMBOL = "BTCUSDT"
WAIT_S = 30


class LogSeen(logging.Handler):
    """Sets the event of each watched text once a record containing it is logged."""

    def __init__(self, *texts: str) -> None:
        super().__init__(logging.INFO)
        self.seen = {text: threading.Event() for text in texts}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        for text, event in self.seen.items():
            if text in message:
                event.set()


@pytest.fixture
def logs() -> Iterator[LogSeen]:
    handler = LogSeen(
        "live klines from the market stream",
        f"{SYMBOL} is over its cost cap: spread 20.0 bps > 15.0 cap",
        f"{SYMBOL} is back within its cost caps",
    )
    loggers = [logging.getLogger(name) for name in ("quantum_trader.feed", "quantum_trader.orchestrator")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def status(db: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["status", "--db", str(db), *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_status_live_book_ticker_spread_reaches_the_policy_and_status(
    tmp_path: Path, fake_binance: FakeBinance, logs: LogSeen
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
        exchange={"kind": "binance", "api_key": TEST_KEY, "api_secret": TEST_SECRET, "base_url": fake_binance.base_url},
        signals={"builtin": False, "inbox": str(tmp_path / "inbox.jsonl")},
        orchestrator={"cycle_seconds": 0.2},
    )
    runner = Runner(settings, live=True)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        assert logs.seen["live klines from the market stream"].wait(WAIT_S), "the feed did not go live"
        fake_binance.set_book(SYMBOL, "40000.0", "40080.0")  # 80 over a 40040 mid: 19.98 bps
        assert logs.seen[f"{SYMBOL} is over its cost cap: spread 20.0 bps > 15.0 cap"].wait(WAIT_S)

        report = json.loads(status(db, "--json"))  # beside the running service: status only reads
        costs = report["costs"]
        assert (costs["max_spread_bps"], costs["max_slippage_bps"]) == (15.0, 20.0)
        assert costs["symbols"] == [
            {
                "symbol": SYMBOL,
                "spread_bps": 19.98,
                "slippage_bps": None,
                "slippage_fills": 0,
                "over_cap": "spread 20.0 bps > 15.0 cap",
            }
        ]
        assert f"Disallowed {SYMBOL}: spread 20.0 bps > 15.0 cap" in report["policy"]["note"]
        assert report["policy"]["disallowed_symbols"] == [SYMBOL]
        table = status(db)
        assert re.search(r"┃ symbol +┃ spread bps +┃ slippage bps +┃ fills +┃ over a cap", table), table
        assert re.search(rf"│ {SYMBOL} +│ 19\.98 +│ - +│ 0 +│ spread 20\.0 bps > 15\.0 cap", table), table

        fake_binance.set_book(SYMBOL, "40000.0", "40000.1")  # one tick: the symbol comes back
        assert logs.seen[f"{SYMBOL} is back within its cost caps"].wait(WAIT_S)
        assert json.loads(status(db, "--json"))["costs"]["symbols"][0]["over_cap"] == ""
    finally:
        runner.request_stop()
        thread.join(WAIT_S)
    assert not thread.is_alive()
