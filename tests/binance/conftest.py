"""Fixtures of the Binance port's tests: the port, started against the fake server, on a manual monotonic clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.binance.account import BinanceExchange
from scripts.fake_binance.fixtures import TEST_KEY, TEST_SECRET
from scripts.fake_binance.server import FakeBinance
from tests.actors.harness import WIDE_STOPS, Harness
from tests.binance.port_helpers import SYMBOL, ManualClock, WaitingTranslator


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def exchange(fake_binance: FakeBinance, clock: ManualClock) -> Iterator[BinanceExchange]:
    fake_binance.set_price(SYMBOL, "40000")
    ex = BinanceExchange(
        api_key=TEST_KEY,
        api_secret=TEST_SECRET,
        base_url=fake_binance.base_url,
        symbols=(SYMBOL,),
        leverage=10,
        timeout_s=0.75,
        reconnect_delay_s=0.05,
        keepalive_s=600,
        monotonic=clock,
        translator=WaitingTranslator(),  # shared by the orders, the stream and the resync
    )
    ex.start()
    yield ex
    ex.close()


def trading_harness(tmp_path: Path, fake_binance: FakeBinance, *, timeout_s: float = 2.0) -> Iterator[Harness]:
    """The real actors on virtual time (tests/actors/harness.py), warmed up, trading BTCUSDT through the Binance port
    and the real python-binance client against the fake server; wide stops, so a test's moves decide the exits.
    `timeout_s`: the port's request timeout."""
    fake_binance.set_price(SYMBOL, "20000")

    def port() -> BinanceExchange:
        return BinanceExchange(
            api_key=TEST_KEY,
            api_secret=TEST_SECRET,
            base_url=fake_binance.base_url,
            symbols=(SYMBOL,),
            leverage=5,
            timeout_s=timeout_s,
            reconnect_delay_s=0.05,
        ).start()

    h = Harness(tmp_path, exchange=port, exit_modes=WIDE_STOPS)
    try:
        h.calm(160)
        yield h
    finally:
        h.stop()


@pytest.fixture
def trading(tmp_path: Path, fake_binance: FakeBinance) -> Iterator[Harness]:
    yield from trading_harness(tmp_path, fake_binance)
