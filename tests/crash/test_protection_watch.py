"""The crash test's protection check against the fake server: a position held without stops of ours covering all
of it, past the allowed time, counts; one whose stops cover it does not. Through the real python-binance client."""

from __future__ import annotations

import pytest
from binance.client import Client

from scripts.crash.protection import ProtectionWatch
from scripts.crash.tally import Tally
from scripts.fake_binance.fixtures import TEST_KEY, TEST_SECRET, needs_shared_data
from scripts.fake_binance.server import FakeBinance

pytestmark = needs_shared_data
PREFIX = "qt"


@pytest.fixture
def client(fake_binance: FakeBinance) -> Client:
    c = Client(TEST_KEY, TEST_SECRET, ping=False)
    c.FUTURES_URL = fake_binance.futures_url
    fake_binance.set_price("BTCUSDT", "40000")
    return c


def stop(client: Client, client_id: str, quantity: str) -> None:
    client.futures_create_order(
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_MARKET",
        quantity=quantity,
        stopPrice="39000",
        reduceOnly="true",
        clientAlgoId=client_id,
    )


def test_a_position_uncovered_past_the_allowed_time_counts_and_a_covered_one_does_not(
    client: Client, fake_binance: FakeBinance
) -> None:
    tally = Tally()
    watch = ProtectionWatch(fake_binance, tally, protect_within_s=0, grace_s=0)
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    stop(client, "qt-sl-p1-0", "0.004")  # ours, but short of the position
    stop(client, "someone-else", "0.010")  # covers it, but not ours
    watch.check(PREFIX, kill=1)  # first seen uncovered: the clock starts
    watch.check(PREFIX, kill=1)
    assert tally.unprotected >= 1 and tally.protection_checks == 2
    assert "BTCUSDT 0.010 held, stops of ours cover 0.004" in next(iter(tally.unprotected_details.values()))

    stop(client, "qt-sl-p1-1", "0.006")  # ours now cover all of it
    counted = tally.unprotected
    watch.check(PREFIX, kill=1)
    watch.check(PREFIX, kill=1)
    assert tally.unprotected == counted
