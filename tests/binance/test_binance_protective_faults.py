"""Protective (conditional) orders that time out, are rate-limited, appear late, or are refused because Binance
changed the symbol's trading rules; and reading the rules again. Through the real python-binance client and the
Binance port against the fake server. Needs ../shared/data/binance.
"""

from __future__ import annotations

import pytest

from exchange.binance.account import BinanceExchange
from exchange.port import FILTER_REJECTIONS, OrderRejected, OrderStatus, OrderType, OutcomeUnknown, RateLimited
from scripts.fake_binance.fixtures import needs_shared_data
from scripts.fake_binance.server import FakeBinance
from tests.binance.port_helpers import ALGO, SYMBOL, D, ManualClock, collect, has_state, market, protective

pytestmark = needs_shared_data
ALGO_PATH = ALGO[1]


def opened(exchange: BinanceExchange) -> None:
    exchange.place_order(market("e1"))
    collect(exchange, has_state("e1", OrderStatus.FILLED))


def test_protective_orders_timing_out_unexecuted_are_unknown_then_not_found_after_the_grace(
    exchange: BinanceExchange, fake_binance: FakeBinance, clock: ManualClock
) -> None:
    opened(exchange)
    fake_binance.faults.timeout_next(path=ALGO_PATH, count=2, execute=False, hold_s=10)
    for cid, kind, trigger in (("sl1", OrderType.STOP_MARKET, "39000"), ("tp1", OrderType.TAKE_PROFIT_MARKET, "42000")):
        with pytest.raises(OutcomeUnknown):
            exchange.place_order(protective(cid, kind, trigger))
    assert fake_binance.engine.algos == {}
    with pytest.raises(OutcomeUnknown):
        exchange.get_order(SYMBOL, "sl1")
    clock.now += 30
    assert exchange.get_order(SYMBOL, "sl1") is None and exchange.get_order(SYMBOL, "tp1") is None
    assert exchange.place_order(protective("sl2", OrderType.STOP_MARKET, "39000")).status is OrderStatus.NEW


def test_protective_order_timing_out_but_executed_is_found_resting(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    opened(exchange)
    fake_binance.faults.timeout_next(path=ALGO_PATH, hold_s=10)
    with pytest.raises(OutcomeUnknown):
        exchange.place_order(protective("sl1", OrderType.STOP_MARKET, "39000"))
    stop = exchange.get_order(SYMBOL, "sl1")
    assert stop is not None and (stop.status, stop.trigger_price) == (OrderStatus.NEW, D("39000"))
    assert fake_binance.client_order_id_counts()["sl1"] == 1


def test_protective_order_appearing_after_a_lookup_that_missed_it(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    opened(exchange)
    fake_binance.faults.late_order(path=ALGO_PATH, lookups=1, hold_s=10)
    with pytest.raises(OutcomeUnknown):
        exchange.place_order(protective("sl1", OrderType.STOP_MARKET, "39000"))
    with pytest.raises(OutcomeUnknown, match="not found"):
        exchange.get_order(SYMBOL, "sl1")
    stop = exchange.get_order(SYMBOL, "sl1")
    assert stop is not None and stop.status is OrderStatus.NEW and stop.type is OrderType.STOP_MARKET


def test_protective_order_rate_limited_waits_retry_after_and_sends_nothing_meanwhile(
    exchange: BinanceExchange, fake_binance: FakeBinance, clock: ManualClock
) -> None:
    opened(exchange)
    fake_binance.faults.rate_limit_next(retry_after_s=7, path=ALGO_PATH)
    with pytest.raises(RateLimited) as limited:
        exchange.place_order(protective("sl1", OrderType.STOP_MARKET, "39000"))
    assert limited.value.retry_after_s == 7
    assert exchange.blocked().startswith("rate limited by the exchange (HTTP 429, -1003)")
    sent = len(fake_binance.requests)
    with pytest.raises(RateLimited):
        exchange.place_order(protective("sl1", OrderType.STOP_MARKET, "39000"))
    assert len(fake_binance.requests) == sent
    clock.now += 7
    assert exchange.place_order(protective("sl1", OrderType.STOP_MARKET, "39000")).status is OrderStatus.NEW
    assert fake_binance.client_order_id_counts()["sl1"] == 1  # the refused attempts did nothing


def test_protective_order_refused_after_a_tick_size_change_and_the_rules_wait_for_refresh_filters(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    opened(exchange)
    assert exchange.symbol_filters(SYMBOL).tick_size == D("0.10")
    fake_binance.faults.change_filters(SYMBOL, tick_size="0.50")
    with pytest.raises(OrderRejected) as off_tick:
        exchange.place_order(protective("sl1", OrderType.STOP_MARKET, "39000.3"))
    assert (off_tick.value.code, off_tick.value.message) == (-4014, "Price not increased by tick size.")
    assert off_tick.value.code in FILTER_REJECTIONS  # the caller's cue to read the rules again
    assert exchange.symbol_filters(SYMBOL).tick_size == D("0.10")  # the port never reads them by itself
    exchange.refresh_filters()
    assert exchange.symbol_filters(SYMBOL).tick_size == D("0.50")
    assert exchange.place_order(protective("sl1", OrderType.STOP_MARKET, "39000.5")).status is OrderStatus.NEW

    fake_binance.faults.change_filters(SYMBOL, tick_size="1")
    with pytest.raises(OrderRejected) as precision:
        exchange.place_order(protective("tp1", OrderType.TAKE_PROFIT_MARKET, "42000.5"))
    assert precision.value.code == -1111 and precision.value.code in FILTER_REJECTIONS


def test_refresh_filters_sees_rules_changed_on_the_exchange(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    opened(exchange)
    fake_binance.faults.change_filters(SYMBOL, step_size="0.005", min_qty="0.005", min_notional="50")
    before = exchange.symbol_filters(SYMBOL)
    assert (before.step_size, before.min_qty, before.min_notional) == (D("0.001"), D("0.001"), D("10"))  # kept
    exchange.refresh_filters()
    after = exchange.symbol_filters(SYMBOL)
    assert (after.step_size, after.min_qty, after.min_notional, after.tick_size) == (
        D("0.005"),
        D("0.005"),
        D("50"),
        D("0.10"),
    )
    with pytest.raises(OrderRejected) as step:
        exchange.place_order(market("e2", qty="0.012"))
    assert step.value.code == -4023
    with pytest.raises(OrderRejected) as decimals:
        exchange.place_order(market("e3", qty="0.0105"))
    assert decimals.value.code == -1111
