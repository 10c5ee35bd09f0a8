"""A Binance ban that outlives a restart: the port keeps the ban's end in the database (`service_state`) and a port
started on the same database sends nothing at all until it ends, not even its start-up reads. Through
`make_exchange` and the real python-binance client against the fake server. Needs ../shared/data/binance.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from config import Settings
from exchange.binance.account import BinanceExchange
from exchange.factory import block_name, block_store, make_exchange
from exchange.port import RateLimited
from persistence import records
from persistence.db import make_engine
from scripts.fake_binance.fixtures import TEST_KEY, TEST_SECRET, needs_shared_data
from scripts.fake_binance.server import FakeBinance
from tests.binance.port_helpers import SYMBOL, ManualClock

pytestmark = needs_shared_data
BANNED = "IP banned by the exchange (HTTP 418)"


def settings_for(fake: FakeBinance) -> Settings:
    return Settings(
        symbols=(SYMBOL,),
        exchange={"kind": "binance", "api_key": TEST_KEY, "api_secret": TEST_SECRET, "base_url": fake.base_url},
    )


def port_keeping_its_block(engine: Engine, fake: FakeBinance, clock: ManualClock) -> BinanceExchange:
    """A started port whose ban or rate limit is kept in (and read back from) the database, on `clock`."""
    load, save = block_store(engine, fake.base_url)
    return BinanceExchange(
        api_key=TEST_KEY,
        api_secret=TEST_SECRET,
        base_url=fake.base_url,
        symbols=(SYMBOL,),
        leverage=3,
        reconnect_delay_s=0.05,
        monotonic=clock,
        load_block=load,
        save_block=save,
    ).start()


def test_ban_kept_in_the_database_stops_every_request_of_a_restarted_port(
    engine: Engine, fake_binance: FakeBinance
) -> None:
    fake_binance.set_price(SYMBOL, "40000")
    settings = settings_for(fake_binance)
    first = make_exchange(settings, engine, live=True)
    fake_binance.faults.ban_next(120, path="/fapi/v3/positionRisk")
    with pytest.raises(RateLimited):
        first.positions()
    first.close()
    with engine.connect() as connection:
        kept = records.load_state(connection, block_name(fake_binance.base_url))
    assert kept["reason"] == BANNED
    assert 110_000 < kept["until_ms"] - time.time() * 1000 <= 120_000

    sent = len(fake_binance.requests)
    second = make_exchange(settings, engine, live=True)  # the process restarted during the ban
    try:
        assert second.blocked().startswith(f"{BANNED}: nothing is sent until ")
        for call in (second.balance, second.positions, second.open_orders, lambda: second.symbol_filters(SYMBOL)):
            with pytest.raises(RateLimited) as refused:
                call()
            assert 100 < refused.value.retry_after_s <= 120
        assert second.health().startswith("user-data stream not started")
        assert len(fake_binance.requests) == sent  # not a time sync, not exchangeInfo, not a balance
    finally:
        second.close()


def test_start_put_off_by_a_kept_ban_is_done_by_the_first_call_after_it_ends(
    engine: Engine, fake_binance: FakeBinance
) -> None:
    fake_binance.set_price(SYMBOL, "40000")
    clock = ManualClock()
    _, save = block_store(engine, fake_binance.base_url)
    save(int(time.time() * 1000) + 60_000, BANNED)  # what the previous process kept
    port = port_keeping_its_block(engine, fake_binance, clock)
    try:
        with pytest.raises(RateLimited):
            port.balance()
        assert fake_binance.requests == []
        clock.now += 61
        assert port.balance().wallet_balance > 0  # the put-off start first, then the balance
        assert fake_binance.requests[:4] == [
            ("GET", "/fapi/v1/time"),
            ("GET", "/fapi/v1/exchangeInfo"),
            ("POST", "/fapi/v1/positionSide/dual"),
            ("POST", "/fapi/v1/leverage"),
        ]
        assert fake_binance.engine.leverage == {SYMBOL: 3}
        stream = port.stream
        assert stream is not None and stream.socket.wait(lambda: port.health() == "", 5)
    finally:
        port.close()


def test_block_store_without_the_table_loses_the_block_quietly(tmp_path: Path, fake_binance: FakeBinance) -> None:
    bare = make_engine(f"sqlite:///{tmp_path}/bare.db")  # never migrated: no service_state table
    load, save = block_store(bare, fake_binance.base_url)
    save(int(time.time() * 1000) + 60_000, BANNED)
    assert load() is None
    bare.dispose()


def test_running_port_adopts_a_ban_the_market_feed_kept(engine: Engine, fake_binance: FakeBinance) -> None:
    fake_binance.set_price(SYMBOL, "40000")
    clock = ManualClock()
    _, save = block_store(engine, fake_binance.base_url)
    port = port_keeping_its_block(engine, fake_binance, clock)
    try:
        assert port.balance().wallet_balance > 0
        save(int(time.time() * 1000) + 60_000, BANNED)  # the feed met a 418 on the same IP
        clock.now += 1  # the kept block is read at most once a second
        sent = len(fake_binance.requests)
        with pytest.raises(RateLimited):
            port.balance()
        assert port.blocked().startswith(BANNED)
        assert len(fake_binance.requests) == sent
    finally:
        port.close()


def test_ban_met_during_the_start_puts_the_start_off_instead_of_failing(
    engine: Engine, fake_binance: FakeBinance
) -> None:
    fake_binance.set_price(SYMBOL, "40000")
    clock = ManualClock()
    load, _ = block_store(engine, fake_binance.base_url)
    fake_binance.faults.ban_next(30, path="/fapi/v1/exchangeInfo")
    port = port_keeping_its_block(engine, fake_binance, clock)  # no exception: the port starts, banned
    try:
        assert port.blocked().startswith(BANNED)
        kept = load()
        assert kept is not None and kept[1] == BANNED  # kept for a restart too
        with pytest.raises(RateLimited):
            port.balance()
        assert fake_binance.faults.during_ban == []
        fake_binance.faults.lift_ban()
        clock.now += 31
        assert port.balance().wallet_balance > 0  # the put-off start, then the balance
        assert fake_binance.engine.leverage == {SYMBOL: 3}
    finally:
        port.close()
