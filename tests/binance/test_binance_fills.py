"""Market orders filled in several trades, through the real python-binance client and the Binance port.

The fake splits the next market orders (`faults.fill_in_trades`): each trade its own ORDER_TRADE_UPDATE with its own
trade id and price, the order PARTIALLY_FILLED and then FILLED, and one userTrades row per trade. Needs
../shared/data/binance.
"""

from __future__ import annotations

from exchange.binance.account import BinanceExchange
from exchange.port import OrderSide, OrderStatus
from scripts.fake_binance.fixtures import needs_shared_data
from scripts.fake_binance.server import FakeBinance
from tests.binance.port_helpers import (
    SYMBOL,
    D,
    all_of,
    collect,
    fills,
    has_state,
    market,
    open_protected,
    states,
)

pytestmark = needs_shared_data


def test_binance_market_entry_in_two_trades_gives_each_fill_and_order_fills_returns_both(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    fake_binance.faults.fill_in_trades(("0.3", "0.7"), ticks=(0, 5))  # the second trade 5 ticks (0.50) higher
    state = exchange.place_order(market("e1", qty="0.010"))
    assert (state.status, state.filled_qty) == (OrderStatus.FILLED, D("0.010"))
    assert state.avg_price == (D("0.003") * 40000 + D("0.007") * D("40000.5")) / D("0.010")

    events = collect(exchange, has_state("e1", OrderStatus.FILLED))
    streamed = fills(events, "e1")
    assert [(f.quantity, f.price) for f in streamed] == [(D("0.003"), D("40000")), (D("0.007"), D("40000.5"))]
    assert len({f.trade_id for f in streamed}) == 2
    assert [(s.status, s.filled_qty) for s in states(events, "e1") if s.status is not OrderStatus.NEW] == [
        (OrderStatus.PARTIALLY_FILLED, D("0.003")),
        (OrderStatus.FILLED, D("0.010")),
    ]
    assert exchange.order_fills(SYMBOL, "e1") == tuple(streamed)  # userTrades lists each trade, as streamed
    [position] = exchange.positions()
    assert position.quantity == D("0.01")


def test_binance_market_exit_in_two_trades_closes_with_both_fills(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    exchange.place_order(market("e1", qty="0.010"))
    collect(exchange, has_state("e1", OrderStatus.FILLED))
    fake_binance.faults.fill_in_trades(("0.5", "0.5"), ticks=(0, 2))
    exchange.place_order(market("x1", side=OrderSide.SELL, qty="0.010", reduce_only=True))

    events = collect(exchange, has_state("x1", OrderStatus.FILLED))
    exits = fills(events, "x1")
    assert [(f.quantity, f.price, f.realized_pnl) for f in exits] == [
        (D("0.005"), D("40000"), D("0")),
        (D("0.005"), D("39999.8"), D("-0.001")),  # a sell two ticks lower
    ]
    assert exchange.order_fills(SYMBOL, "x1") == tuple(exits)
    assert exchange.positions() == ()


def test_binance_triggered_stop_in_three_trades_reports_every_fill_under_the_stops_id(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    open_protected(exchange)
    fake_binance.faults.fill_in_trades(("0.2", "0.3", "0.5"))  # 0, 1 and 2 ticks worse
    fake_binance.set_price(SYMBOL, "38500")

    events = collect(exchange, all_of(has_state("sl1", OrderStatus.FILLED), has_state("tp1", OrderStatus.EXPIRED)))
    stop_fills = fills(events, "sl1")
    assert [(f.quantity, f.price) for f in stop_fills] == [
        (D("0.002"), D("38500")),
        (D("0.003"), D("38499.9")),
        (D("0.005"), D("38499.8")),
    ]
    [final] = [s for s in states(events, "sl1") if s.status is OrderStatus.FILLED]
    assert final.filled_qty == D("0.010")
    assert exchange.order_fills(SYMBOL, "sl1") == tuple(stop_fills)
    assert exchange.positions() == ()


def test_binance_fee_paid_in_bnb_keeps_its_asset_on_streamed_and_read_fills(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    fake_binance.faults.pay_fees_in("BNB", "600")
    exchange.place_order(market("e1", qty="0.010"))
    events = collect(exchange, has_state("e1", OrderStatus.FILLED))
    [fill] = fills(events, "e1")
    assert (fill.fee, fill.fee_asset) == (D("0.00026667"), "BNB")  # 0.16 USDT worth of BNB at 600
    [read] = exchange.order_fills(SYMBOL, "e1")
    assert (read.fee, read.fee_asset) == (D("0.00026667"), "BNB")
    assert exchange.balance().wallet_balance == D("10000")  # no USDT was charged


def test_binance_same_trade_id_on_two_symbols_is_two_fills_streamed_and_resynced(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    fake_binance.set_price("ETHUSDT", "2500")
    exchange.place_order(market("b1", qty="0.010"))
    exchange.place_order(market("t1", qty="0.100", symbol="ETHUSDT"))
    events = collect(exchange, all_of(has_state("b1", OrderStatus.FILLED), has_state("t1", OrderStatus.FILLED)))
    [btc], [eth] = fills(events, "b1"), fills(events, "t1")
    assert btc.trade_id == eth.trade_id  # Binance numbers trades per symbol

    fake_binance.faults.block_user_streams()  # away: the next trades are read back through REST
    assert exchange.stream is not None
    assert exchange.stream.socket.wait(lambda: not exchange.stream.connected.is_set(), 5)  # type: ignore[union-attr]
    exchange.place_order(market("b2", qty="0.010"))
    exchange.place_order(market("t2", qty="0.100", symbol="ETHUSDT"))
    fake_binance.faults.unblock_user_streams()
    events = collect(exchange, lambda ev: bool(fills(ev, "b2")) and bool(fills(ev, "t2")))
    [btc2], [eth2] = fills(events, "b2"), fills(events, "t2")
    assert btc2.trade_id == eth2.trade_id == btc.trade_id + 1
