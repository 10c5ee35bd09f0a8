"""The paper account's saved state: the pure codec, and an exchange restored from it behaving as the one saved."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from exchange.market import Candle, SymbolFilters
from exchange.paper import state as saved
from exchange.paper.exchange import PaperExchange
from exchange.paper.state import PaperState, PaperStateError
from exchange.port import Fill, OrderRequest, OrderSide, OrderState, OrderStatus, OrderType

BTC = "BTCUSDT"
MINUTE = 60_000
D = Decimal


def bar(minute: int, o: float, h: float, low: float, c: float) -> Candle:
    return Candle(symbol=BTC, open_time=minute * MINUTE, open=o, high=h, low=low, close=c, volume=1.0)


def request(
    cid: str,
    side: OrderSide,
    qty: str,
    kind: OrderType = OrderType.MARKET,
    trigger: str | None = None,
    reduce_only: bool = False,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol=BTC,
        side=side,
        type=kind,
        quantity=D(qty),
        trigger_price=None if trigger is None else D(trigger),
        reduce_only=reduce_only,
    )


def trading_account() -> PaperExchange:
    """A long position with a resting stop and take-profit, a market order not yet matched, events not drained."""
    ex = PaperExchange(starting_balance=D("10000"), fee_rate=D("0.0004"), slippage_bps=D("2"))
    ex.on_candle(bar(0, 50_000.1, 50_000.1, 50_000.1, 50_000.1))
    ex.place_order(request("e1", OrderSide.BUY, "0.200"))
    ex.on_candle(bar(1, 50_010.3, 50_100.0, 49_950.0, 50_020.7))
    ex.place_order(request("sl", OrderSide.SELL, "0.200", OrderType.STOP_MARKET, "49000", reduce_only=True))
    ex.place_order(request("tp", OrderSide.SELL, "0.100", OrderType.TAKE_PROFIT_MARKET, "51000", reduce_only=True))
    ex.place_order(request("e2", OrderSide.BUY, "0.050"))
    return ex


def hand_made_state() -> PaperState:
    order = OrderState(
        client_order_id="sl",
        exchange_order_id=2,
        symbol=BTC,
        side=OrderSide.SELL,
        type=OrderType.STOP_MARKET,
        quantity=D("0.010"),
        trigger_price=D("39000.0"),
        reduce_only=True,
        status=OrderStatus.NEW,
        updated_at=120_000,
    )
    entry = OrderState(
        client_order_id="e1",
        exchange_order_id=1,
        symbol=BTC,
        side=OrderSide.BUY,
        type=OrderType.MARKET,
        quantity=D("0.010"),
        trigger_price=None,
        reduce_only=False,
        status=OrderStatus.FILLED,
        filled_qty=D("0.010"),
        avg_price=D("40000.1"),
        updated_at=60_000,
    )
    fill = Fill(
        client_order_id="e1",
        symbol=BTC,
        side=OrderSide.BUY,
        quantity=D("0.010"),
        price=D("40000.1"),
        fee=D("0.16000040"),
        realized_pnl=D("0"),
        at=60_000,
        trade_id=1,
    )
    return PaperState(
        starting_balance=D("10000"),
        fee_rate=D("0.0004"),
        slippage_bps=D("0"),
        wallet_balance=D("9999.8399996"),
        now=120_000,
        next_order_id=3,
        next_trade_id=2,
        last_prices={BTC: 40000.1},
        filters={BTC: SymbolFilters(tick_size=D("0.1"), step_size=D("0.001"), min_qty=D("0.001"), min_notional=D(5))},
        positions={BTC: (D("0.010"), D("40000.1"))},
        orders=(entry, order),
        open={BTC: ("sl",)},
        events=(fill, entry, order),
        fills=(fill,),
    )


def through_json(data: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(data))
    return loaded


def test_paper_state_encode_then_decode_gives_the_same_state() -> None:
    state = hand_made_state()
    assert saved.decode(through_json(saved.encode(state))) == state


def test_paper_state_encode_keeps_the_saved_shape_of_version_1() -> None:
    data = saved.encode(hand_made_state())
    assert list(data) == [
        "version",
        "starting_balance",
        "fee_rate",
        "slippage_bps",
        "wallet_balance",
        "now",
        "next_order_id",
        "next_trade_id",
        "last_prices",
        "filters",
        "positions",
        "orders",
        "open",
        "events",
        "fills",
    ]
    assert data["version"] == 1 and data["wallet_balance"] == "9999.8399996" and data["last_prices"] == {BTC: "40000.1"}
    assert data["positions"] == {BTC: {"quantity": "0.010", "entry_price": "40000.1"}}
    assert data["open"] == {BTC: ["sl"]} and [e["kind"] for e in data["events"]] == ["fill", "order", "order"]


def test_paper_state_restored_exchange_has_the_same_positions_orders_and_balance() -> None:
    ex = trading_account()
    restored = PaperExchange.from_state(through_json(ex.to_state()))
    assert restored.positions() == ex.positions() and ex.positions()[0].quantity == D("0.200")
    assert restored.open_orders() == ex.open_orders()
    assert [o.client_order_id for o in ex.open_orders()] == ["sl", "tp", "e2"]
    assert restored.balance() == ex.balance()
    assert restored.get_order(BTC, "e1") == ex.get_order(BTC, "e1")
    assert restored.order_fills(BTC, "e1") == ex.order_fills(BTC, "e1") != ()
    assert restored.pending_events() == ex.pending_events()


def test_paper_state_restored_exchange_trades_on_identically() -> None:
    ex = trading_account()
    restored = PaperExchange.from_state(through_json(ex.to_state()))
    for candle in (bar(2, 50_030.0, 51_200.0, 50_000.0, 50_900.0), bar(3, 50_900.0, 50_900.0, 48_500.0, 48_700.0)):
        ex.on_candle(candle)
        restored.on_candle(candle)
    again = request("e3", OrderSide.SELL, "0.010")
    assert restored.place_order(again) == ex.place_order(again)  # same order ids
    assert restored.drain_events() == ex.drain_events()
    assert restored.balance() == ex.balance() and restored.positions() == ex.positions()
    assert restored.to_state() == ex.to_state()


def test_paper_state_of_another_version_is_refused_naming_it() -> None:
    data = saved.encode(hand_made_state()) | {"version": 2}
    with pytest.raises(PaperStateError, match="version 2, expected 1"):
        saved.decode(data)
    with pytest.raises(ValueError, match="version None"):  # PaperStateError is a ValueError, as before
        PaperExchange.from_state({"wallet_balance": "1"})


def test_paper_state_missing_key_is_refused_naming_it() -> None:
    data = saved.encode(hand_made_state())
    del data["next_trade_id"]
    with pytest.raises(PaperStateError, match="'next_trade_id'"):
        saved.decode(data)


def test_paper_state_malformed_value_is_refused() -> None:
    data = saved.encode(hand_made_state()) | {"wallet_balance": "lots"}
    with pytest.raises(PaperStateError, match="unreadable"):
        saved.decode(data)


def test_paper_state_saved_before_fills_were_kept_reads_as_no_fills() -> None:
    data = saved.encode(hand_made_state())
    del data["fills"]
    state = saved.decode(data)
    assert state.fills == () and state.orders == hand_made_state().orders
    restored = PaperExchange.from_state(data)
    assert restored.order_fills(BTC, "e1") == () and restored.positions()[0].quantity == D("0.010")
