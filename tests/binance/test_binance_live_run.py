"""`quantum-trader run --live` as a real process against the fake Binance server on 127.0.0.1, the live
guard, and a scan for the fake keys in everything the run left behind."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actors.clock import WallClock
from actors.system import TradingSystem
from config import Settings
from exchange.factory import make_exchange
from exchange.port import ExchangeError
from persistence.db import make_engine
from persistence.migrate import upgrade
from scripts.fake_binance.fixtures import TEST_KEY, TEST_SECRET, needs_shared_data
from scripts.fake_binance.server import FakeBinance
from scripts.service_process import ServiceProcess, command
from service.cli import app
from service.live_guard import describe_venue
from tests.actors.harness import WIDE_STOPS

pytestmark = needs_shared_data

WAIT_S = 30
MINUTE = 60_000
SYMBOL = "BTCUSDT"
CANDLES = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "candles" / "binance_BTCUSDT_5m_20180426-20180428.csv"
)


def Service(workdir: Path, env: dict[str, str]) -> ServiceProcess:
    return ServiceProcess(("run", "--live"), workdir, env, wait_s=WAIT_S)


def push_history(server: FakeBinance, count: int) -> int:
    """`count` closed 1m candles on a gentle random walk; returns the open time of the next one (still past)."""
    rng = random.Random(5)
    start = (int(time.time() * 1000) // MINUTE - count - 30) * MINUTE
    price = Decimal("40000")
    for index in range(count):
        close = price + Decimal(rng.randint(-40, 40))
        server.push_candle(
            SYMBOL,
            open_time=start + index * MINUTE,
            open=price,
            high=max(price, close) + 15,
            low=min(price, close) - 15,
            close=close,
            volume="5",
        )
        price = close
    return start + count * MINUTE


def live_env(tmp_path: Path, server: FakeBinance) -> dict[str, str]:
    return os.environ | {
        "QT_DATABASE__URL": f"sqlite:///{tmp_path / 'live.db'}",
        "QT_EXCHANGE__KIND": "binance",
        "QT_EXCHANGE__API_KEY": TEST_KEY,
        "QT_EXCHANGE__API_SECRET": TEST_SECRET,
        "QT_EXCHANGE__BASE_URL": server.base_url,
        "QT_FEED__KIND": "binance",
        "QT_SYMBOLS": json.dumps([SYMBOL]),
        "QT_SIGNALS__BUILTIN": "false",
        "QT_SIGNALS__INBOX": str(tmp_path / "inbox.jsonl"),
        "QT_ORCHESTRATOR__CYCLE_SECONDS": "0.5",
        "QT_EXIT_MODES": json.dumps(WIDE_STOPS),
    }


def run_cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args), check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S
    )


# --- the live guard -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "env", "missing"),
    [
        (
            (),
            {"QT_EXCHANGE__API_KEY": TEST_KEY, "QT_EXCHANGE__API_SECRET": TEST_SECRET},
            "the --live flag was not given",
        ),
        (("--live",), {}, "QT_EXCHANGE__API_KEY and QT_EXCHANGE__API_SECRET not set in the environment"),
        (("--live",), {"QT_EXCHANGE__API_KEY": TEST_KEY}, "QT_EXCHANGE__API_SECRET not set in the environment"),
        (
            ("--live",),
            {"QT_EXCHANGE__API_KEY": TEST_KEY, "QT_EXCHANGE__API_SECRET": TEST_SECRET, "QT_FEED__KIND": "synthetic"},
            'live orders need feed.kind = "binance"',
        ),
        (
            ("--live", "--db", "relative/qt.db"),  # the later --db wins: a path relative to wherever it is started
            {"QT_EXCHANGE__API_KEY": TEST_KEY, "QT_EXCHANGE__API_SECRET": TEST_SECRET},
            "the database path 'relative/qt.db' is relative; live trading needs an absolute one",
        ),
    ],
)
def test_run_binance_without_live_or_keys_exits_2_with_a_clear_message(
    tmp_path: Path, flags: tuple[str, ...], env: dict[str, str], missing: str
) -> None:
    db = tmp_path / "qt.db"
    base_env = {
        "QT_EXCHANGE__KIND": "binance",
        "QT_FEED__KIND": "binance",
        "QT_EXCHANGE__API_KEY": "",
        "QT_EXCHANGE__API_SECRET": "",
        "COLUMNS": "400",
    }
    result = CliRunner().invoke(app, ["run", "--db", str(db), *flags], env=base_env | env)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert missing in result.output and "Traceback" not in result.output
    assert "needs both API keys in the environment" in result.output and "testnet" in result.output
    assert TEST_KEY not in result.output and TEST_SECRET not in result.output
    assert not db.exists()  # refused before anything was opened


def test_describe_venue_testnet_by_default_mainnet_only_when_set_false() -> None:
    testnet = Settings(exchange={"kind": "binance"})
    assert describe_venue(testnet) == "BINANCE TESTNET (test funds, no real money) at https://testnet.binancefuture.com"
    mainnet = Settings(exchange={"kind": "binance", "testnet": False})
    assert describe_venue(mainnet) == "LIVE MAINNET TRADING WITH REAL MONEY on Binance at https://fapi.binance.com"
    local = Settings(exchange={"kind": "binance", "base_url": "http://127.0.0.1:8123/"})
    assert describe_venue(local) == "BINANCE TESTNET (test funds, no real money) at http://127.0.0.1:8123"
    assert describe_venue(Settings()) == "PAPER TRADING (no real orders)"


def test_make_exchange_binance_needs_the_live_opt_in(tmp_path: Path) -> None:
    settings = Settings(exchange={"kind": "binance", "api_key": TEST_KEY, "api_secret": TEST_SECRET})
    engine = make_engine(f"sqlite:///{tmp_path / 'qt.db'}")
    with pytest.raises(ValueError, match="only under `quantum-trader run --live`"):
        make_exchange(settings, engine)  # what a replay would do; run and recover pass live only under --live


def test_make_exchange_binance_starts_the_port_and_the_system_closes_it(
    tmp_path: Path, fake_binance: FakeBinance
) -> None:
    fake_binance.set_price(SYMBOL, "40000")
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
    engine = make_engine(f"sqlite:///{tmp_path / 'qt.db'}")
    upgrade(engine)
    exchange = make_exchange(settings, engine, live=True)
    assert {
        ("GET", "/fapi/v1/time"),
        ("GET", "/fapi/v1/exchangeInfo"),
        ("POST", "/fapi/v1/positionSide/dual"),
        ("POST", "/fapi/v1/leverage"),
        ("POST", "/fapi/v1/listenKey"),
    } <= set(fake_binance.requests)
    assert exchange.symbol_filters(SYMBOL).min_notional > 0
    stream = exchange.stream
    assert stream is not None and stream.is_alive()
    system = TradingSystem(settings, WallClock(), engine, exchange=exchange)
    system.start()
    system.stop("test")
    assert not stream.is_alive() and exchange.stream is None
    engine.dispose()


def test_make_exchange_wrong_secret_error_names_no_key(tmp_path: Path, fake_binance: FakeBinance) -> None:
    wrong = "qt-wrong-secret-55aa"
    settings = Settings(
        symbols=(SYMBOL,),
        exchange={"kind": "binance", "api_key": TEST_KEY, "api_secret": wrong, "base_url": fake_binance.base_url},
    )
    with pytest.raises(ExchangeError) as caught:
        make_exchange(settings, make_engine(f"sqlite:///{tmp_path / 'qt.db'}"), live=True)
    text = f"{caught.value!s} {caught.value!r}"
    assert "-1022" in text or "Signature" in text
    assert TEST_KEY not in text and wrong not in text


# --- a filled entry's stop does not wait for the policy cycle ------------------------------------


def test_run_live_places_the_stop_of_a_filled_entry_at_once_not_at_the_next_cycle(
    tmp_path: Path, fake_binance: FakeBinance
) -> None:
    """The fill reaches the service on the user-data stream between steps; a step takes it then, so the stop rests
    within seconds while the next policy cycle is a minute away (no candle closes meanwhile)."""
    next_open = push_history(fake_binance, 300)
    env = live_env(tmp_path, fake_binance) | {
        "QT_ORCHESTRATOR__CYCLE_SECONDS": "60",
        "QT_SIGNALS__MAX_STEP_LAG_S": "7200",  # the pushed kline's step (half an hour old) reads the inbox
    }
    service = Service(tmp_path, env)
    try:
        service.wait_for("live klines from the market stream")
        (tmp_path / "inbox.jsonl").write_text(json.dumps({"symbol": SYMBOL, "side": "LONG", "confidence": 0.8}) + "\n")
        fake_binance.push_candle(SYMBOL, open_time=next_open, open="40010", high="40030", low="40000", close="40020.5")
        sent = service.wait_for("(entry order sent")
        opened = service.wait_for(": open (entry filled", within_s=15)
        placed = service.wait_for("stop-loss placed", within_s=5)
    finally:
        code = service.stop()
    log = "".join(service.log)
    assert code == 0, log
    position = sent.split()[sent.split().index("BTCUSDT") - 1]
    assert position in opened and position in placed
    qty, _ = fake_binance.engine.positions[SYMBOL]
    stops = [a for a in fake_binance.engine.algos.values() if a.status == "NEW" and a.order_type == "STOP_MARKET"]
    assert len(stops) == 1 and stops[0].quantity == qty > 0, stops


# --- a live run as a process, then the secrets scan --------------------------------------------


def test_run_live_on_fake_binance_trades_stops_on_sigterm_and_leaves_no_key_anywhere(
    tmp_path: Path, fake_binance: FakeBinance
) -> None:
    next_open = push_history(fake_binance, 300)
    env = live_env(tmp_path, fake_binance)
    service = Service(tmp_path, env)
    try:
        venue = service.wait_for("BINANCE TESTNET")
        assert "WARNING" in venue and fake_binance.base_url in venue
        service.wait_for("live klines from the market stream")
        # Another database on this host, the same account: refused, whoever holds it named, the key never shown.
        other = run_cli(tmp_path, env | {"QT_DATABASE__URL": f"sqlite:///{tmp_path / 'other.db'}"}, "run", "--live")
        assert other.returncode == 2, other.stderr
        assert f"(pid {service.process.pid}, database sqlite:///{tmp_path / 'live.db'}) is trading this account" in (
            " ".join(other.stderr.split())
        )
        assert TEST_KEY not in other.stderr and not (tmp_path / "other.db").exists()
        # A live kline, then a signal: the entry fills at the kline's close on the fake exchange.
        fake_binance.push_candle(SYMBOL, open_time=next_open, open="40010", high="40030", low="40000", close="40020.5")
        (tmp_path / "inbox.jsonl").write_text(json.dumps({"symbol": SYMBOL, "side": "LONG", "confidence": 0.8}) + "\n")
        opened = service.wait_for(": open (entry filled")
        assert "BTCUSDT LONG" in opened and "40020.5" in opened
    finally:
        code = service.stop()
    log = "".join(service.log)
    assert code == 0, log
    assert "stopped cleanly" in log and "Traceback" not in log

    qty, entry = fake_binance.engine.positions[SYMBOL]
    assert qty > 0 and entry == Decimal("40020.5")
    resting = [a for a in fake_binance.engine.algos.values() if a.status == "NEW"]
    assert {a.order_type for a in resting} >= {"STOP_MARKET", "TAKE_PROFIT_MARKET"}
    assert not fake_binance.duplicate_client_order_ids()

    positions = json.loads(run_cli(tmp_path, env, "positions", "--json").stdout)
    assert [(p["symbol"], p["state"]) for p in positions] == [(SYMBOL, "open")]

    # The secrets scan: the log, the database (files and every table), the CLI's outputs, a report.
    outputs = [log, service.stdout]
    for args in (
        ("config", "show"),
        ("status", "--json"),
        ("positions", "--json"),
        ("transitions", "--json"),
        ("gate", "--json"),
    ):
        result = run_cli(tmp_path, env, *args)
        assert result.returncode == 0, result.stderr
        outputs += [result.stdout, result.stderr]
    config = json.loads(outputs[2])
    assert config["exchange"]["api_key"] == config["exchange"]["api_secret"] == "**********"
    report_env = env | {"QT_EXCHANGE__KIND": "paper", "QT_FEED__KIND": "file"}  # a replay never trades live
    report = run_cli(
        tmp_path,
        report_env,
        "replay",
        "--data",
        str(CANDLES),
        "--symbol",
        SYMBOL,
        "--to",
        "2018-04-26T12:00:00Z",
        "--out",
        str(tmp_path / "report"),
    )
    assert report.returncode == 0, report.stderr
    outputs += [report.stdout, report.stderr]
    assert list((tmp_path / "report").glob("*.md"))

    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "inbox.jsonl"]
    assert any(p.name == "live.db" for p in files)
    blobs = [p.read_bytes() for p in files]
    rows = []
    with sqlite3.connect(tmp_path / "live.db") as connection:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert {"positions", "orders", "transitions"} <= set(tables)
        for table in tables:
            rows += [repr(row) for row in connection.execute(f'SELECT * FROM "{table}"')]
    assert any("qt" in row for row in rows)  # the scan reads real content
    for secret in (TEST_KEY, TEST_SECRET):
        for text in outputs + rows:
            assert secret not in text
        for blob in blobs:
            assert secret.encode() not in blob
