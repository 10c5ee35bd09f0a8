"""Fills made while the user-data stream was down, read back through REST for exactly the gap.

The fake refuses the stream (`block_user_streams`) or keeps it open but silent (`mute_streams`) while orders fill;
after the reconnect the port reads userTrades from when the previous session last heard anything to when the new
one opened (with a margin), paging past a full page, and reads the trades of a filled order it had not heard of.
Needs ../shared/data/binance.
"""

from __future__ import annotations

from typing import Any

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from exchange.binance.account import BinanceExchange
from exchange.binance.user_stream import UserStream
from exchange.port import ExchangeEvent, OrderSide, OrderStatus
from scripts.fake_binance.fixtures import TEST_KEY, TEST_SECRET, needs_shared_data
from scripts.fake_binance.server import FakeBinance
from tests.binance.port_helpers import (
    SYMBOL,
    D,
    ManualClock,
    all_of,
    collect,
    fills,
    has_state,
    market,
    open_protected,
)

pytestmark = needs_shared_data
WAIT_S = 5.0
MARGIN_MS = 5_000  # the port's default widening of the gap
SLACK_MS = 100  # how far the port's estimate of the server's clock may be off here
TRADES = "/fapi/v1/userTrades"


def stream_of(exchange: BinanceExchange) -> UserStream:
    assert exchange.stream is not None
    return exchange.stream


def trade_queries(fake: FakeBinance, after: int = 0) -> list[dict[str, str]]:
    return [params for method, path, params in fake.calls[after:] if (method, path) == ("GET", TRADES)]


def filled_quantity(events: list[ExchangeEvent], cid: str) -> D:
    return sum((f.quantity for f in fills(events, cid)), D(0))


def away(exchange: BinanceExchange, fake: FakeBinance) -> None:
    fake.faults.block_user_streams()
    stream = stream_of(exchange)
    assert stream.socket.wait(lambda: not stream.connected.is_set(), WAIT_S)


def test_resync_reads_the_fills_of_the_gap_within_its_start_and_end(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    exchange.place_order(market("e1"))
    collect(exchange, has_state("e1", OrderStatus.FILLED))
    heard_entry_at = fake_binance.engine.trades[-1]["time"]
    away(exchange, fake_binance)
    gap_began = fake_binance.now_ms()
    exchange.place_order(market("e2"))  # while nobody listens: REST answers, the stream is refused
    exchange.place_order(market("x1", side=OrderSide.SELL, qty="0.020", reduce_only=True))
    gap_ended = fake_binance.now_ms()
    mark = len(fake_binance.calls)
    fake_binance.faults.unblock_user_streams()

    events = collect(
        exchange, lambda ev: filled_quantity(ev, "e2") == D("0.010") and filled_quantity(ev, "x1") == D("0.020")
    )
    assert fills(events, "e1") == []  # heard before the gap: not reported again
    [query] = trade_queries(fake_binance, mark)
    start, end = int(query["startTime"]), int(query["endTime"])
    # From the last thing heard, not the process's start (give or take the port's estimate of the server's clock).
    assert heard_entry_at - MARGIN_MS - SLACK_MS <= start <= gap_began - MARGIN_MS + SLACK_MS
    assert end >= gap_ended + MARGIN_MS - SLACK_MS
    assert exchange.positions() == ()


def test_resync_pages_past_a_full_page_of_trades_made_in_the_gap(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    away(exchange, fake_binance)
    fake_binance.faults.partial_fills(600)
    exchange.place_order(market("e1", qty="0.600"))  # 600 trades of 0.001
    fake_binance.faults.partial_fills(600)
    exchange.place_order(market("x1", side=OrderSide.SELL, qty="0.600", reduce_only=True))
    assert len(fake_binance.engine.trades) == 1200
    mark = len(fake_binance.calls)
    fake_binance.faults.unblock_user_streams()

    events = collect(
        exchange,
        lambda ev: filled_quantity(ev, "e1") == D("0.600") and filled_quantity(ev, "x1") == D("0.600"),
        timeout=30,
    )
    assert len(fills(events, "e1")) == 600 and len(fills(events, "x1")) == 600
    assert len({f.trade_id for f in fills(events)}) == 1200
    queries = trade_queries(fake_binance, mark)
    assert [sorted(q) for q in queries] == [
        ["endTime", "limit", "recvWindow", "startTime", "symbol", "timestamp"],
        ["fromId", "limit", "recvWindow", "symbol", "timestamp"],  # the page after the first 1000
    ]
    assert int(queries[1]["fromId"]) == fake_binance.engine.trades[999]["id"] + 1


def test_resync_reads_the_trades_of_a_stop_that_filled_unheard_before_the_gap(
    exchange: BinanceExchange, fake_binance: FakeBinance, clock: ManualClock
) -> None:
    open_protected(exchange)
    stream = stream_of(exchange)
    fake_binance.faults.mute_streams(user=True)  # connected, but its frames are lost
    fake_binance.set_price(SYMBOL, "38500")  # the stop fills: nobody hears it
    stop_trade = fake_binance.engine.trades[-1]
    fake_binance.faults.skew_clock(20_000)  # 20 s pass on the exchange's clock...
    exchange.sync_time()
    fake_binance.faults.unmute_streams()
    clock.now += 61  # ...and the stream is heard again (a pong) well after the stop filled
    assert stream.socket.wait(lambda: exchange.health() == "", WAIT_S)
    mark = len(fake_binance.calls)
    fake_binance.faults.drop_user_streams()

    events = collect(exchange, all_of(has_state("sl1", OrderStatus.FILLED), has_state("tp1", OrderStatus.EXPIRED)))
    [fill] = fills(events, "sl1")
    assert (fill.quantity, fill.price, fill.trade_id) == (D("0.010"), D("38500"), stop_trade["id"])
    window, by_order = trade_queries(fake_binance, mark)
    assert int(window["startTime"]) > stop_trade["time"]  # the gap's window does not reach back to it...
    assert int(by_order["orderId"]) == stop_trade["orderId"]  # ...the filled stop's own trades were read
    assert exchange.positions() == ()


@pytest.fixture
def client(fake_binance: FakeBinance) -> Client:
    c = Client(TEST_KEY, TEST_SECRET, ping=False)
    c.FUTURES_URL = fake_binance.futures_url
    fake_binance.set_price(SYMBOL, "40000")
    return c


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 1001}, -1130),
        ({"fromId": 1, "startTime": 0}, -1128),
        ({"startTime": 0, "endTime": 7 * 24 * 3_600_000 + 1}, -1127),
    ],
)
def test_fake_user_trades_refuses_what_binance_refuses(client: Client, params: dict[str, Any], code: int) -> None:
    with pytest.raises(BinanceAPIException) as refused:
        client.futures_account_trades(symbol=SYMBOL, **params)
    assert refused.value.code == code


def test_fake_user_trades_pages_500_by_default_oldest_first(client: Client, fake_binance: FakeBinance) -> None:
    fake_binance.faults.partial_fills(510)
    client.futures_create_order(symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.510", newClientOrderId="e1")
    now = fake_binance.now_ms()
    first = client.futures_account_trades(symbol=SYMBOL, startTime=now - 3_600_000, endTime=now)
    assert len(first) == 500
    rest = client.futures_account_trades(symbol=SYMBOL, fromId=first[-1]["id"] + 1)
    assert len(rest) == 10 and [t["id"] for t in first + rest] == [t["id"] for t in fake_binance.engine.trades]
