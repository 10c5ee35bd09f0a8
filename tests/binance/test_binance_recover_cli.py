"""`quantum-trader recover --live` against the fake Binance server on 127.0.0.1: the live guard, a dry run
that only reads the account, and a real recovery that re-places a stop cancelled while the service was down.

The open position is made by the real actors on virtual time (tests/actors/harness.py) trading through the
real python-binance client; the command then runs through Typer's CliRunner on the same database file.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config import Settings
from exchange.binance.account import BinanceExchange
from exchange.factory import make_exchange
from persistence.db import make_engine
from scripts.fake_binance.fixtures import TEST_KEY, TEST_SECRET, needs_shared_data
from scripts.fake_binance.server import FakeBinance
from service.cli import app
from tests.actors.harness import WIDE_STOPS, Harness

pytestmark = needs_shared_data

SYMBOL = "BTCUSDT"
# Set up by a service's start: the account's settings and the user-data stream's listen key.
ACCOUNT_SETUP = {"/fapi/v1/leverage", "/fapi/v1/positionSide/dual", "/fapi/v1/listenKey"}


def _port(fake: FakeBinance, *, configure: bool = True) -> BinanceExchange:
    return BinanceExchange(
        api_key=TEST_KEY,
        api_secret=TEST_SECRET,
        base_url=fake.base_url,
        symbols=(SYMBOL,),
        leverage=5,
        timeout_s=2.0,
        reconnect_delay_s=0.05,
    ).start(configure=configure)


def _env(fake: FakeBinance, db: Path) -> dict[str, str]:
    """The settings the harness traded with, as an operator's environment for `exchange.kind = "binance"`."""
    return {
        "QT_EXCHANGE__KIND": "binance",
        "QT_EXCHANGE__API_KEY": TEST_KEY,
        "QT_EXCHANGE__API_SECRET": TEST_SECRET,
        "QT_EXCHANGE__BASE_URL": fake.base_url,
        "QT_FEED__KIND": "binance",
        "QT_SYMBOLS": json.dumps([SYMBOL]),
        "QT_SIGNALS__BUILTIN": "false",
        "QT_SIGNALS__INBOX": str(db.parent / "inbox.jsonl"),
        "QT_EXIT_MODES": json.dumps(WIDE_STOPS),
        "COLUMNS": "400",
    }


def _recover(db: Path, env: dict[str, str], *flags: str) -> str:
    result = CliRunner().invoke(app, ["recover", "--db", str(db), *flags], env=env)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert TEST_KEY not in result.output and TEST_SECRET not in result.output
    return result.output


def _snapshot(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(db) as connection:
        return {
            table: list(connection.execute(f'SELECT * FROM "{table}" ORDER BY rowid'))
            for table in ("positions", "orders", "fills", "transitions", "gate")
        }


@pytest.fixture
def stop_gone(tmp_path: Path, fake_binance: FakeBinance) -> tuple[Path, str]:
    """An open long on the fake exchange, the service stopped, and its stop-loss cancelled by hand meanwhile:
    (the database file, the cancelled stop's client order id)."""
    fake_binance.set_price(SYMBOL, "20000")
    h = Harness(tmp_path, exchange=lambda: _port(fake_binance), exit_modes=WIDE_STOPS)
    try:
        h.calm(160)
        h.signal(SYMBOL, "LONG", 0.8)
        h.until(lambda: any(p[1] == "open" for p in h.positions()), limit=10)
        h.until(
            lambda: {"sl", "tp"} <= {r[0] for r in h.rows("SELECT purpose FROM orders WHERE status = 'NEW'")}, limit=5
        )
        (stop_id,) = h.rows("SELECT client_order_id FROM orders WHERE purpose = 'sl' AND status = 'NEW'")[0]
    finally:
        h.stop()
    by_hand = _port(fake_binance, configure=False)
    by_hand.cancel_order(SYMBOL, stop_id)
    by_hand.close()
    assert fake_binance.engine.algos_by_cid[stop_id].status == "CANCELED"
    return tmp_path / "trader.db", stop_id


# --- the guard --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flags", [(), ("--dry-run",)])
def test_recover_binance_without_live_exits_2_naming_the_flag(tmp_path: Path, flags: tuple[str, ...]) -> None:
    db = tmp_path / "qt.db"
    env = {
        "QT_EXCHANGE__KIND": "binance",
        "QT_FEED__KIND": "binance",
        "QT_EXCHANGE__API_KEY": TEST_KEY,
        "QT_EXCHANGE__API_SECRET": TEST_SECRET,
        "COLUMNS": "400",
    }
    result = CliRunner().invoke(app, ["recover", "--db", str(db), *flags], env=env)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "the --live flag was not given" in result.output and "`recover --live`" in result.output
    assert "testnet" in result.output and "Traceback" not in result.output
    assert TEST_KEY not in result.output and TEST_SECRET not in result.output
    assert not db.exists()  # refused before anything was opened


def test_make_exchange_read_only_syncs_time_and_filters_only(tmp_path: Path, fake_binance: FakeBinance) -> None:
    settings = Settings(
        symbols=(SYMBOL,),
        exchange={
            "kind": "binance",
            "api_key": TEST_KEY,
            "api_secret": TEST_SECRET,
            "base_url": fake_binance.base_url,
            "leverage": 4,
        },
    )
    exchange = make_exchange(settings, make_engine(f"sqlite:///{tmp_path / 'qt.db'}"), live=True, read_only=True)
    try:
        assert fake_binance.requests == [("GET", "/fapi/v1/time"), ("GET", "/fapi/v1/exchangeInfo")]
        assert exchange.stream is None and exchange.symbol_filters(SYMBOL).min_notional > 0
        assert fake_binance.engine.leverage == {}
    finally:
        exchange.close()


# --- dry run and recovery ---------------------------------------------------------------------------------


def test_recover_dry_run_live_prints_the_plan_and_sends_nothing_that_changes_the_account(
    stop_gone: tuple[Path, str], fake_binance: FakeBinance
) -> None:
    db, stop_id = stop_gone
    env = _env(fake_binance, db)
    before, sent, counts = _snapshot(db), len(fake_binance.requests), fake_binance.client_order_id_counts()
    algos = {cid: a.status for cid, a in fake_binance.engine.algos_by_cid.items()}

    output = _recover(db, env, "--dry-run", "--live")

    assert "1 live position(s) in the database" in output
    assert "BINANCE TESTNET" in output and "read only" in output
    (line,) = [line for line in output.splitlines() if line.startswith("reprotect")]
    assert "protective orders missing on the exchange: sl" in line
    during = fake_binance.requests[sent:]
    assert {method for method, _ in during} == {"GET"}, during  # lookups only: no order, cancel or setting
    assert not {path for _, path in during} & ACCOUNT_SETUP, during
    assert fake_binance.client_order_id_counts() == counts
    assert {cid: a.status for cid, a in fake_binance.engine.algos_by_cid.items()} == algos
    assert algos[stop_id] == "CANCELED"
    assert _snapshot(db) == before


def test_recover_live_replaces_the_missing_stop_then_a_dry_run_has_nothing_to_do(
    stop_gone: tuple[Path, str], fake_binance: FakeBinance
) -> None:
    db, stop_id = stop_gone
    env = _env(fake_binance, db)
    sent = len(fake_binance.requests)

    output = _recover(db, env, "--live")

    assert "reprotect" in output and "sl" in output
    # The same start as the service's: the account configured, the user-data stream opened.
    assert {("POST", "/fapi/v1/leverage"), ("POST", "/fapi/v1/listenKey")} <= set(fake_binance.requests[sent:])
    with sqlite3.connect(db) as connection:
        stops = list(connection.execute("SELECT client_order_id, status FROM orders WHERE purpose = 'sl' ORDER BY id"))
    assert stops[0][0] == stop_id and stops[0][1] != "NEW"
    (new_stop,) = [cid for cid, status in stops if status == "NEW"]
    assert new_stop != stop_id
    resting = fake_binance.engine.algos_by_cid[new_stop]
    assert (resting.status, resting.order_type, resting.symbol) == ("NEW", "STOP_MARKET", SYMBOL)
    assert not fake_binance.duplicate_client_order_ids()

    again = _recover(db, env, "--dry-run", "--live")
    plan = [line for line in again.splitlines() if line and not line.startswith(("recover", "1 live position"))]
    assert plan and all(line.startswith("confirm") for line in plan), again
    assert "reprotect" not in again
