"""The Binance exchange port, with the real python-binance client, against the fake server on 127.0.0.1.

Every fault is injected in the server, never by patching the client. Needs
../shared/data/binance (the server serves the real exchangeInfo capture).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from exchange.binance.account import BinanceExchange
from exchange.port import (
    ExchangePort,
    OrderRejected,
    OrderSide,
    OrderState,
    OrderStatus,
    OrderType,
    OutcomeUnknown,
    RateLimited,
    UnknownSymbol,
)
from scripts.fake_binance.fixtures import TEST_KEY, TEST_SECRET, needs_shared_data
from scripts.fake_binance.server import FakeBinance
from tests.binance.port_helpers import (
    ORDER,
    SYMBOL,
    D,
    ManualClock,
    all_of,
    collect,
    fills,
    has_state,
    market,
    open_protected,
    protective,
)

pytestmark = needs_shared_data


# --- start, rules, normal paths -------------------------------------------------------------------------


def test_binance_start_sets_one_way_mode_leverage_and_filters(fake_binance: FakeBinance) -> None:
    fake_binance.engine.dual_side = True
    ex = BinanceExchange(
        api_key=TEST_KEY,
        api_secret=TEST_SECRET,
        base_url=fake_binance.base_url,
        symbols=(SYMBOL, "ETHUSDT"),
        leverage=7,
        user_stream=False,
    )
    try:
        ex.start()
        assert isinstance(ex, ExchangePort)
        assert fake_binance.engine.dual_side is False and fake_binance.engine.leverage == {SYMBOL: 7, "ETHUSDT": 7}
        ex.set_one_way_mode()  # already one-way: Binance's -4059 is not an error
        assert ex.symbol_filters("ETHUSDT").tick_size == D("0.01")
        with pytest.raises(UnknownSymbol):
            ex.symbol_filters("DOGEUSDT")
    finally:
        ex.close()


def test_binance_market_order_fills_and_streams_fill(exchange: BinanceExchange, fake_binance: FakeBinance) -> None:
    state = exchange.place_order(market("e1"))
    assert (state.status, state.filled_qty, state.avg_price) == (OrderStatus.FILLED, D("0.010"), D("40000"))
    events = collect(exchange, has_state("e1", OrderStatus.FILLED))
    [fill] = fills(events, "e1")
    assert (fill.quantity, fill.price, fill.fee) == (D("0.010"), D("40000"), D("0.16"))
    [position] = exchange.positions()
    assert (position.symbol, position.quantity, position.entry_price) == (SYMBOL, D("0.01"), D("40000"))
    assert exchange.balance().wallet_balance == D("10000") - D("0.16")
    assert exchange.get_order(SYMBOL, "e1") == state
    assert fake_binance.client_order_id_counts() == {"e1": 1}


def test_binance_protective_orders_go_to_algo_service_and_stop_fills(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    open_protected(exchange)
    assert fake_binance.requests.count(("POST", "/fapi/v1/algoOrder")) == 2
    assert {o.client_order_id: o.type for o in exchange.open_orders(SYMBOL)} == {
        "sl1": OrderType.STOP_MARKET,
        "tp1": OrderType.TAKE_PROFIT_MARKET,
    }
    fake_binance.set_price(SYMBOL, "38500")
    events = collect(exchange, all_of(has_state("sl1", OrderStatus.FILLED), has_state("tp1", OrderStatus.EXPIRED)))
    [fill] = fills(events, "sl1")
    assert (fill.price, fill.realized_pnl) == (D("38500"), D("-15"))
    assert exchange.positions() == () and exchange.open_orders() == ()
    stop = exchange.get_order(SYMBOL, "sl1")
    assert stop is not None and (stop.status, stop.filled_qty, stop.avg_price) == (
        OrderStatus.FILLED,
        D("0.010"),
        D("38500"),
    )


def test_binance_candle_through_both_triggers_fills_stop_first(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    open_protected(exchange)
    fake_binance.push_candle(
        SYMBOL, open_time=1_700_000_000_000, open="40000", high="42500", low="38800", close="41000"
    )
    events = collect(exchange, all_of(has_state("sl1", OrderStatus.FILLED), has_state("tp1", OrderStatus.EXPIRED)))
    assert [f.client_order_id for f in fills(events)] == ["sl1"]
    assert fills(events)[0].price == D("39000")  # inside the candle: at the trigger


def test_binance_cancel_and_lookup_not_found(exchange: BinanceExchange, fake_binance: FakeBinance) -> None:
    open_protected(exchange)
    canceled = exchange.cancel_order(SYMBOL, "tp1")
    assert canceled.status is OrderStatus.CANCELED
    collect(exchange, has_state("tp1", OrderStatus.CANCELED))
    with pytest.raises(OrderRejected) as again:
        exchange.cancel_order(SYMBOL, "tp1")
    assert again.value.code == -2011
    with pytest.raises(OrderRejected) as unknown:
        exchange.cancel_order(SYMBOL, "never-sent")
    assert unknown.value.code == -2011
    with pytest.raises(OrderRejected) as filled:
        exchange.cancel_order(SYMBOL, "e1")  # a filled market order is not open
    assert filled.value.code == -2011
    assert exchange.get_order(SYMBOL, "never-sent") is None


def test_binance_lookup_after_restart_finds_both_order_kinds(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    open_protected(exchange)
    fresh = BinanceExchange(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=fake_binance.base_url, user_stream=False)
    try:
        entry, stop = fresh.get_order(SYMBOL, "e1"), fresh.get_order(SYMBOL, "sl1")
        assert entry is not None and entry.type is OrderType.MARKET and entry.status is OrderStatus.FILLED
        assert stop is not None and stop.type is OrderType.STOP_MARKET and stop.status is OrderStatus.NEW
        assert fresh.cancel_order(SYMBOL, "sl1").status is OrderStatus.CANCELED
    finally:
        fresh.close()


# --- rejections ----------------------------------------------------------------------------------------------


def test_binance_margin_insufficient_is_rejected_2019(exchange: BinanceExchange, fake_binance: FakeBinance) -> None:
    with pytest.raises(OrderRejected) as natural:
        exchange.place_order(market("big", qty="3.000"))  # 120k notional at 10x > 10k wallet
    assert (natural.value.code, natural.value.message) == (-2019, "Margin is insufficient.")
    fake_binance.faults.reject_next(-2019, "Margin is insufficient.", path="/fapi/v1/order")
    with pytest.raises(OrderRejected) as injected:
        exchange.place_order(market("e2"))
    assert injected.value.code == -2019
    assert exchange.get_order(SYMBOL, "big") is None and exchange.get_order(SYMBOL, "e2") is None


def test_binance_min_notional_is_rejected_4164(exchange: BinanceExchange, fake_binance: FakeBinance) -> None:
    fake_binance.set_price(SYMBOL, "5000")
    with pytest.raises(OrderRejected) as rejected:
        exchange.place_order(market("tiny", qty="0.001"))
    assert rejected.value.code == -4164 and "notional" in rejected.value.message


def test_binance_timestamp_outside_recv_window_resyncs_and_retries_once(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    fake_binance.faults.skew_clock(30_000)  # the server's clock jumps 30 s ahead of ours
    state = exchange.place_order(market("e1"))
    assert state.status is OrderStatus.FILLED
    assert fake_binance.requests.count(ORDER) == 2 and ("GET", "/fapi/v1/time") in fake_binance.requests
    assert fake_binance.client_order_id_counts() == {"e1": 1}  # the refused attempt never reached matching
    fake_binance.faults.reject_next(
        -1021, "Timestamp for this request is outside of the recvWindow.", path="/fapi/v1/order", count=2
    )
    with pytest.raises(OrderRejected) as twice:
        exchange.place_order(market("e2"))
    assert twice.value.code == -1021  # retried once only


# --- unknown outcomes ------------------------------------------------------------------------------------------


def test_binance_timeout_on_entry_that_filled_leaves_one_order_found_by_client_id(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    fake_binance.faults.timeout_next(path="/fapi/v1/order", hold_s=10)
    with pytest.raises(OutcomeUnknown):
        exchange.place_order(market("e1"))
    found = exchange.get_order(SYMBOL, "e1")
    assert found is not None and found.status is OrderStatus.FILLED and found.filled_qty == D("0.010")
    assert fake_binance.client_order_id_counts() == {"e1": 1}
    assert [o.client_id for o in fake_binance.engine.orders.values()] == ["e1"]
    assert [p.quantity for p in exchange.positions()] == [D("0.01")]


def test_binance_5xx_is_unknown_outcome_resolved_by_lookup(
    exchange: BinanceExchange, fake_binance: FakeBinance, clock: ManualClock
) -> None:
    fake_binance.faults.server_error_next(path="/fapi/v1/order", status=503)
    with pytest.raises(OutcomeUnknown):
        exchange.place_order(market("lost"))
    with pytest.raises(OutcomeUnknown):
        exchange.get_order(SYMBOL, "lost")  # not found yet: within the grace it may still appear
    clock.now += 30
    assert exchange.get_order(SYMBOL, "lost") is None  # never reached the engine
    fake_binance.faults.server_error_next(path="/fapi/v1/algoOrder", status=502, execute=True)
    exchange.place_order(market("e1"))
    with pytest.raises(OutcomeUnknown):
        exchange.place_order(protective("sl1", OrderType.STOP_MARKET, "39000"))
    stop = exchange.get_order(SYMBOL, "sl1")
    assert stop is not None and stop.status is OrderStatus.NEW
    assert fake_binance.duplicate_client_order_ids() == {}


def test_binance_connection_refused_is_unknown_outcome(fake_binance: FakeBinance) -> None:
    dead = FakeBinance().start()
    url = dead.base_url
    dead.stop()
    ex = BinanceExchange(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=url, user_stream=False, timeout_s=0.5)
    with pytest.raises(OutcomeUnknown):
        ex.place_order(market("e1"))
    ex.close()


def test_binance_latency_below_timeout_still_answers(exchange: BinanceExchange, fake_binance: FakeBinance) -> None:
    fake_binance.faults.latency(0.2, path="/fapi/v3/balance")
    started = time.monotonic()
    assert exchange.balance().wallet_balance == D("10000")
    assert time.monotonic() - started >= 0.2


# --- rate limits and bans ---------------------------------------------------------------------------------------


def test_binance_429_honours_retry_after_and_sends_nothing_meanwhile(
    exchange: BinanceExchange, fake_binance: FakeBinance, clock: ManualClock
) -> None:
    fake_binance.faults.rate_limit_next(retry_after_s=3, path="/fapi/v1/order")
    with pytest.raises(RateLimited) as limited:
        exchange.place_order(market("e1"))
    assert limited.value.retry_after_s == 3
    sent = len(fake_binance.requests)
    clock.now += 2.5
    with pytest.raises(RateLimited) as still:
        exchange.place_order(market("e1"))
    assert still.value.retry_after_s == pytest.approx(0.5)
    assert len(fake_binance.requests) == sent
    clock.now += 0.5
    assert exchange.place_order(market("e1")).status is OrderStatus.FILLED  # same client id: nothing was done


def test_binance_418_ban_blocks_every_call_until_it_ends(
    exchange: BinanceExchange, fake_binance: FakeBinance, clock: ManualClock
) -> None:
    fake_binance.faults.ban_next(120, path="/fapi/v3/positionRisk")
    with pytest.raises(RateLimited) as banned:
        exchange.positions()
    assert banned.value.retry_after_s == 120
    sent = len(fake_binance.requests)
    with pytest.raises(RateLimited):
        exchange.balance()
    assert len(fake_binance.requests) == sent
    clock.now += 120
    fake_binance.faults.lift_ban()  # the fake's clock is the wall's: end its ban with the client's
    assert exchange.positions() == ()


# --- fills -----------------------------------------------------------------------------------------------------------


def test_binance_partial_fills_arrive_as_separate_fills(exchange: BinanceExchange, fake_binance: FakeBinance) -> None:
    fake_binance.faults.partial_fills(2)
    exchange.place_order(market("e1", qty="0.011"))
    events = collect(exchange, has_state("e1", OrderStatus.FILLED))
    assert [f.quantity for f in fills(events, "e1")] == [D("0.005"), D("0.006")]
    partial = [e for e in events if isinstance(e, OrderState) and e.status is OrderStatus.PARTIALLY_FILLED]
    assert [p.filled_qty for p in partial] == [D("0.005")]


def test_binance_partial_fill_with_expired_remainder(exchange: BinanceExchange, fake_binance: FakeBinance) -> None:
    fake_binance.faults.partial_fills(2, expire_remainder=True)
    state = exchange.place_order(market("e1", qty="0.010"))
    assert (state.status, state.filled_qty) == (OrderStatus.EXPIRED, D("0.005"))
    events = collect(exchange, has_state("e1", OrderStatus.EXPIRED))
    assert sum(f.quantity for f in fills(events, "e1")) == D("0.005")
    assert [p.quantity for p in exchange.positions()] == [D("0.005")]


# --- the user-data stream ---------------------------------------------------------------------------------------------


def test_binance_dropped_stream_reconnects_and_resyncs(exchange: BinanceExchange, fake_binance: FakeBinance) -> None:
    open_protected(exchange)
    fake_binance.faults.drop_user_streams()
    assert fake_binance.wait_user_stream_connects(2)
    assert exchange.stream is not None and exchange.stream.connected.wait(5)
    fake_binance.set_price(SYMBOL, "38000")
    events = collect(exchange, has_state("sl1", OrderStatus.FILLED))
    assert len(fills(events, "sl1")) == 1
    assert exchange.stream.resyncs >= 1


def test_binance_listen_key_expiry_renews_key_and_reconnects(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    posts = fake_binance.requests.count(("POST", "/fapi/v1/listenKey"))
    fake_binance.faults.expire_listen_key()
    assert fake_binance.wait_user_stream_connects(2)
    assert fake_binance.requests.count(("POST", "/fapi/v1/listenKey")) == posts + 1
    exchange.place_order(market("e1"))
    collect(exchange, has_state("e1", OrderStatus.FILLED))


def test_binance_listen_key_kept_alive_and_renewed_when_refused(
    exchange: BinanceExchange, fake_binance: FakeBinance, clock: ManualClock
) -> None:
    mark = len(fake_binance.requests)
    fake_binance.faults.reject_next(-1125, "This listenKey does not exist.", method="PUT", path="/fapi/v1/listenKey")
    clock.now += 601
    assert fake_binance.wait_for_request("PUT", "/fapi/v1/listenKey", after=mark)
    assert fake_binance.wait_for_request("POST", "/fapi/v1/listenKey", after=mark)  # refused: a new key
    assert fake_binance.wait_user_stream_connects(2)
    assert exchange.stream is not None and exchange.stream.connected.wait(5)
    mark = len(fake_binance.requests)
    clock.now += 601
    assert fake_binance.wait_for_request("PUT", "/fapi/v1/listenKey", after=mark)  # the new key kept alive
    exchange.place_order(market("e1"))
    collect(exchange, has_state("e1", OrderStatus.FILLED))
    assert fake_binance.requests[mark:].count(("POST", "/fapi/v1/listenKey")) == 0


def test_binance_stop_filled_while_away_is_found_by_resync(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    open_protected(exchange)
    fake_binance.faults.block_user_streams()
    fake_binance.set_price(SYMBOL, "38000")  # nobody is listening: these events are lost
    fake_binance.faults.unblock_user_streams()
    events = collect(exchange, all_of(has_state("sl1", OrderStatus.FILLED), has_state("tp1", OrderStatus.EXPIRED)))
    [fill] = fills(events, "sl1")
    assert (fill.quantity, fill.price) == (D("0.010"), D("38000"))
    assert exchange.positions() == ()


def test_binance_liquidation_reported_as_foreign_fill(exchange: BinanceExchange, fake_binance: FakeBinance) -> None:
    open_protected(exchange)
    fake_binance.faults.liquidate(SYMBOL, D("36500"))
    events = collect(exchange, all_of(lambda ev: bool(fills(ev)), has_state("sl1", OrderStatus.EXPIRED)))
    [fill] = fills(events)
    assert fill.client_order_id.startswith("autoclose-") and fill.side is OrderSide.SELL
    assert exchange.positions() == ()


def test_binance_close_by_hand_while_away_is_found_by_resync(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    open_protected(exchange)
    fake_binance.faults.block_user_streams()
    fake_binance.faults.close_by_hand(SYMBOL, D("40500"))
    fake_binance.faults.unblock_user_streams()
    events = collect(exchange, all_of(lambda ev: bool(fills(ev)), has_state("tp1", OrderStatus.EXPIRED)))
    [fill] = fills(events)
    assert fill.client_order_id.startswith("web_") and fill.price == D("40500")


# --- secrets ---------------------------------------------------------------------------------------------------------


def test_binance_keys_never_in_errors_or_logs(
    exchange: BinanceExchange, fake_binance: FakeBinance, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    messages = [repr(exchange)]
    faults = fake_binance.faults
    injections: list[Callable[[], None]] = [
        lambda: faults.timeout_next(path="/fapi/v1/order", hold_s=5),
        lambda: faults.server_error_next(),
        lambda: faults.rate_limit_next(0),
        lambda: faults.reject_next(-2019, "Margin is insufficient."),
    ]
    for i, inject in enumerate(injections):
        inject()
        try:
            exchange.place_order(market(f"s{i}"))
        except Exception as e:
            messages += [str(e), repr(e)]
    faults.drop_user_streams()
    assert fake_binance.wait_user_stream_connects(2)
    text = "\n".join(messages) + caplog.text
    assert TEST_KEY not in text and TEST_SECRET not in text
