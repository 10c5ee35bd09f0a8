"""An order whose request timed out, that Binance does not find for a while and then shows, filled.

The fake holds the request past the client's timeout without executing it (`faults.late_order`); lookups by its
client id answer -2013 "Order does not exist." until the order appears, after a number of lookups or a time on the
fake's clock. The port must not take "does not exist" for an answer during its grace. Needs ../shared/data/binance.
"""

from __future__ import annotations

import pytest

from exchange.binance.account import BinanceExchange
from exchange.port import OrderStatus, OutcomeUnknown
from scripts.fake_binance.fixtures import needs_shared_data
from scripts.fake_binance.server import FakeBinance
from tests.binance.port_helpers import SYMBOL, D, ManualClock, collect, fills, has_state, market

pytestmark = needs_shared_data
LOOKUP = ("GET", "/fapi/v1/order")


def test_binance_get_order_after_timeout_unknown_while_not_found_then_filled(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    fake_binance.faults.late_order(lookups=2, hold_s=10)
    with pytest.raises(OutcomeUnknown):
        exchange.place_order(market("e1"))
    assert fake_binance.engine.orders == {}  # the request never reached the matching engine
    for _ in range(2):
        with pytest.raises(OutcomeUnknown, match="not found"):
            exchange.get_order(SYMBOL, "e1")
    assert fake_binance.requests.count(LOOKUP) == 2

    found = exchange.get_order(SYMBOL, "e1")  # the third lookup: the order exists, and filled
    assert found is not None and (found.status, found.filled_qty) == (OrderStatus.FILLED, D("0.010"))
    events = collect(exchange, has_state("e1", OrderStatus.FILLED))
    [fill] = fills(events, "e1")
    assert fill.quantity == D("0.010")
    assert exchange.order_fills(SYMBOL, "e1") == (fill,)
    assert fake_binance.client_order_id_counts() == {"e1": 1}
    assert [p.quantity for p in exchange.positions()] == [D("0.01")]


def test_binance_get_order_not_found_beyond_the_grace_is_none_and_the_late_fill_still_streams(
    exchange: BinanceExchange, fake_binance: FakeBinance, clock: ManualClock
) -> None:
    fake_binance.faults.late_order(lookups=None, seconds=600, hold_s=10)
    with pytest.raises(OutcomeUnknown):
        exchange.place_order(market("e1"))
    with pytest.raises(OutcomeUnknown):
        exchange.order_fills(SYMBOL, "e1")
    clock.now += 31  # the port's grace is 30 s
    assert exchange.get_order(SYMBOL, "e1") is None

    assert fake_binance.faults.release_late_orders() == ["e1"]
    events = collect(exchange, has_state("e1", OrderStatus.FILLED))  # a caller that wrote it off hears of it
    assert [f.quantity for f in fills(events, "e1")] == [D("0.010")]
    found = exchange.get_order(SYMBOL, "e1")
    assert found is not None and found.status is OrderStatus.FILLED


def test_binance_late_order_appears_once_the_fakes_clock_passes_its_time(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    fake_binance.faults.late_order(lookups=None, seconds=5, hold_s=10)
    with pytest.raises(OutcomeUnknown):
        exchange.place_order(market("e1"))
    with pytest.raises(OutcomeUnknown):
        exchange.get_order(SYMBOL, "e1")
    fake_binance.faults.skew_clock(10_000)  # the fake's clock passes the order's time (the port resyncs its own)
    found = exchange.get_order(SYMBOL, "e1")
    assert found is not None and (found.status, found.filled_qty) == (OrderStatus.FILLED, D("0.010"))
    assert fake_binance.faults.late.waiting() == []
