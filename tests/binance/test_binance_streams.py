"""The user-data stream against frames Binance should not send, and its health, through the Binance port.

The fake sends frames as given (`faults.send_user_frame`) and can keep a connection open but silent
(`faults.mute_streams`). Needs ../shared/data/binance.
"""

from __future__ import annotations

import pytest

from exchange.binance.account import BinanceExchange
from exchange.binance.user_stream import UserStream
from exchange.port import OrderStatus
from scripts.fake_binance.fixtures import needs_shared_data
from scripts.fake_binance.server import FakeBinance
from tests.binance.port_helpers import D, ManualClock, collect, fills, has_state, market

pytestmark = needs_shared_data
WAIT_S = 5.0


def order_update(**changes: object) -> dict[str, object]:
    """An ORDER_TRADE_UPDATE of an order nobody placed, with `changes` to its order fields (None: left out)."""
    o: dict[str, object] = {
        "s": "BTCUSDT",
        "c": "someone",
        "S": "BUY",
        "o": "MARKET",
        "q": "0.010",
        "x": "NEW",
        "X": "NEW",
        "i": 1,
        "l": "0",
        "z": "0",
        "L": "0",
        "t": 0,
        "R": False,
    }
    o.update(changes)
    return {"e": "ORDER_TRADE_UPDATE", "E": 1, "T": 1, "o": {k: v for k, v in o.items() if v is not None}}


def stream_of(exchange: BinanceExchange) -> UserStream:
    assert exchange.stream is not None
    return exchange.stream


def test_user_stream_unreadable_frames_are_counted_skipped_and_the_next_event_read(
    exchange: BinanceExchange, fake_binance: FakeBinance, caplog: pytest.LogCaptureFixture
) -> None:
    stream = stream_of(exchange)
    for frame in (
        "this is not JSON",
        order_update(s=None),  # a missing field
        order_update(S=["BUY"]),  # a list where a string belongs
        {"e": "ORDER_TRADE_UPDATE", "E": 1, "o": "text"},  # a string where an object belongs
        order_update(q="0.0.1"),  # not a number
        {**order_update(), "E": "yesterday"},  # not an integer
        order_update(S="SIDEWAYS", x="TRADE", l="0.001", t=9),  # a side the port does not know
        {"e": "STRATEGY_UPDATE", "E": 1},  # an event the port does not read
        ["ORDER_TRADE_UPDATE"],  # JSON, but not an object
    ):
        fake_binance.faults.send_user_frame(frame)
    exchange.place_order(market("e1"))

    events = collect(exchange, has_state("e1", OrderStatus.FILLED))  # the stream is alive after all of them
    assert [f.quantity for f in fills(events, "e1")] == [D("0.010")]
    assert fills(events, "someone") == []
    assert stream.skipped == {"not JSON": 1, "missing field": 1, "wrong type": 3, "bad value": 3, "unknown event": 1}
    assert stream.is_alive() and stream.connected.is_set() and stream.connections == 1
    assert exchange.health() == ""
    for kind in ("not JSON", "missing field", "wrong type", "bad value"):
        assert f"frame skipped ({kind})" in caplog.text


def test_user_stream_silent_while_muted_then_heard_again(
    exchange: BinanceExchange, fake_binance: FakeBinance, clock: ManualClock
) -> None:
    stream = stream_of(exchange)
    assert exchange.health() == ""
    fake_binance.faults.mute_streams(user=True)
    clock.now += 95  # nothing heard for 95 s: the stream pings, and nobody answers
    assert exchange.health() == "user-data stream silent for 95 s"
    fake_binance.faults.unmute_streams()
    clock.now += 30  # time to ping again: the answer comes
    assert stream.socket.wait(lambda: exchange.health() == "", WAIT_S)
    assert stream.connections == 1  # the same connection all along


def test_user_stream_disconnected_while_refused_then_healthy_after_reconnect(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    stream = stream_of(exchange)
    fake_binance.faults.block_user_streams()
    assert stream.socket.wait(lambda: not stream.connected.is_set(), WAIT_S)
    assert exchange.health().startswith("user-data stream disconnected since ")
    assert stream.socket.wait(lambda: stream.socket.failures >= 2, WAIT_S)  # refused, again and again
    assert stream.socket.last_delay_s > 0.05  # backing off: more than the base delay
    fake_binance.faults.unblock_user_streams()
    assert stream.socket.wait(lambda: exchange.health() == "", WAIT_S)
    assert stream.connections == 2 and stream.resyncs == 1


def test_port_health_without_a_stream_is_empty_and_closed_stream_says_so(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    dry = BinanceExchange(api_key="k", api_secret="s", base_url=fake_binance.base_url, user_stream=False)
    assert dry.start(configure=False).health() == ""  # a dry run reads through REST only: nothing to watch
    dry.close()
    exchange.close()
    assert exchange.health() == "user-data stream closed"
