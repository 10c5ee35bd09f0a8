"""Fixtures of the Binance port's tests: the port, started against the fake server, on a manual monotonic clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exchange.binance.account import BinanceExchange
from scripts.fake_binance.fixtures import TEST_KEY, TEST_SECRET
from scripts.fake_binance.server import FakeBinance
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
    )
    ex.translator = WaitingTranslator()  # before start: the stream and the resync take it from there
    ex.start()
    yield ex
    ex.close()
