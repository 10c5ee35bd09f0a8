"""Entries are looked up one at a time: one that Binance does not show yet holds up no other.

An entry whose request timed out answers "Order does not exist." for a while (`faults.late_order`); another entry,
sent fine, fills while the user-data stream is silent, so only a lookup tells of its fill. The second one must be
looked up, opened and protected at once, whatever the first one's lookups answer. The real actors on virtual time,
through the real python-binance client against the fake server.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from actors.messages import position_id_for
from exchange.binance.account import BinanceExchange
from exchange.port import OrderType
from scripts.fake_binance.fixtures import TEST_KEY, TEST_SECRET, needs_shared_data
from scripts.fake_binance.server import FakeBinance
from tests.actors.harness import WIDE_STOPS, Harness

pytestmark = needs_shared_data
SYMBOLS = ("BTCUSDT", "ETHUSDT")


@pytest.fixture
def trading(tmp_path: Path, fake_binance: FakeBinance) -> Iterator[Harness]:
    fake_binance.set_price("BTCUSDT", "20000")  # where the harness's candles are
    fake_binance.set_price("ETHUSDT", "40000")

    def port() -> BinanceExchange:
        return BinanceExchange(
            api_key=TEST_KEY,
            api_secret=TEST_SECRET,
            base_url=fake_binance.base_url,
            symbols=SYMBOLS,
            leverage=5,
            timeout_s=0.5,
            reconnect_delay_s=0.05,
        ).start()

    h = Harness(tmp_path, symbols=SYMBOLS, exchange=port, exit_modes=WIDE_STOPS)
    try:
        h.calm(160)
        yield h
    finally:
        h.stop()


def state_of(h: Harness, position_id: str) -> str:
    ((state,),) = h.rows("SELECT state FROM positions WHERE id = :p", p=position_id)
    return str(state)


def test_an_entry_binance_does_not_show_yet_holds_up_no_other_entrys_lookup(
    trading: Harness, fake_binance: FakeBinance
) -> None:
    h = trading
    fake_binance.faults.late_order(lookups=None, seconds=3600, hold_s=1.0)
    late = position_id_for(h.signal("BTCUSDT", "LONG"))
    h.step()  # the BTCUSDT entry's request times out: its outcome is unknown, and lookups do not find it
    assert state_of(h, late) == "unknown"

    fake_binance.faults.mute_streams(user=True)  # the ETHUSDT entry's fill goes unheard
    unheard = position_id_for(h.signal("ETHUSDT", "LONG"))
    h.step()
    assert state_of(h, unheard) == "entry_submitted"
    [held] = [p for p in h.system.ctx.exchange.positions() if p.symbol == "ETHUSDT"]

    h.step()  # a minute on: both entries are looked up, the unknown one first
    assert state_of(h, unheard) == "open"
    assert state_of(h, late) == "unknown"  # still not shown: looked up again at the next step, never resent
    stops = [o for o in h.system.ctx.exchange.open_orders("ETHUSDT") if o.type is OrderType.STOP_MARKET]
    assert sum((o.quantity for o in stops), Decimal(0)) == held.quantity
    assert set(fake_binance.client_order_id_counts().values()) == {1}  # nothing sent twice
