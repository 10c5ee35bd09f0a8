"""Positions the exchange changes by itself while the service runs: a liquidation, an auto-deleverage (ADL) and a
close by hand on the website. Each comes as the foreign order's fill and an ACCOUNT_UPDATE; the port reports the
fill under the foreign client id and a `PositionChanged` with the new amount and the reason. Through the real
python-binance client against the fake server, and the translator on Binance's own samples. Needs
../shared/data/binance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from exchange.binance.account import BinanceExchange
from exchange.binance.translator import EventTranslator
from exchange.binance.user_events import parse_user_event
from exchange.port import (
    ExchangeEvent,
    Fill,
    OrderSide,
    OrderState,
    OrderStatus,
    PositionChanged,
    PositionChangeReason,
)
from scripts.fake_binance.fixtures import needs_shared_data
from scripts.fake_binance.server import SHARED_DATA, FakeBinance
from tests.binance.port_helpers import SYMBOL, D, Done, all_of, collect, fills, has_state, open_protected

pytestmark = needs_shared_data
USER_SAMPLES = SHARED_DATA / "binance" / "user_stream"


def changes(events: Sequence[ExchangeEvent], reason: str | None = None) -> list[PositionChanged]:
    return [e for e in events if isinstance(e, PositionChanged) and reason in (None, e.reason)]


def changed_by(reason: str) -> Done:
    return lambda events: bool(changes(events, reason))


def test_liquidation_reports_its_fill_and_the_position_flat(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    open_protected(exchange)
    fake_binance.faults.liquidate(SYMBOL, "36500")
    events = collect(
        exchange, all_of(changed_by(PositionChangeReason.LIQUIDATION), has_state("sl1", OrderStatus.EXPIRED))
    )
    [fill] = fills(events)
    assert fill.client_order_id.startswith("autoclose-") and (fill.side, fill.quantity) == (OrderSide.SELL, D("0.010"))
    [change] = changes(events, PositionChangeReason.LIQUIDATION)
    assert (change.symbol, change.quantity, change.client_order_id, change.at) == (
        SYMBOL,
        D("0"),
        fill.client_order_id,
        fill.at,
    )
    assert exchange.positions() == ()


def test_auto_deleverage_of_part_reports_the_new_quantity(exchange: BinanceExchange, fake_binance: FakeBinance) -> None:
    open_protected(exchange)
    fake_binance.faults.auto_deleverage(SYMBOL, "41000", quantity="0.004")
    events = collect(exchange, changed_by(PositionChangeReason.AUTO_DELEVERAGE))
    [fill] = fills(events)
    assert (fill.client_order_id, fill.quantity, fill.price) == ("adl_autoclose", D("0.004"), D("41000"))
    [change] = changes(events, PositionChangeReason.AUTO_DELEVERAGE)
    assert (change.quantity, change.client_order_id) == (D("0.006"), "adl_autoclose")
    [position] = exchange.positions()
    assert position.quantity == D("0.006")


def test_close_by_hand_of_part_reports_another_client_and_the_new_quantity(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    open_protected(exchange)
    fake_binance.faults.close_by_hand(SYMBOL, "40500", quantity="0.003")
    events = collect(exchange, changed_by(PositionChangeReason.OTHER_CLIENT))
    [fill] = fills(events)
    assert fill.client_order_id.startswith("web_") and fill.quantity == D("0.003")
    [change] = changes(events, PositionChangeReason.OTHER_CLIENT)
    assert (change.quantity, change.client_order_id) == (D("0.007"), fill.client_order_id)
    assert [p.quantity for p in exchange.positions()] == [D("0.007")]


def test_own_fill_account_update_is_a_position_change_without_a_foreign_reason(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    open_protected(exchange)  # its entry's ACCOUNT_UPDATE was drained with it
    fake_binance.set_price(SYMBOL, "38500")  # our stop fills
    events = collect(exchange, all_of(has_state("sl1", OrderStatus.FILLED), changed_by("account update")))
    [change] = changes(events)
    assert (change.quantity, change.reason, change.client_order_id) == (D("0"), "account update", "")


def test_liquidation_while_away_is_read_by_the_resync_with_its_reason(
    exchange: BinanceExchange, fake_binance: FakeBinance
) -> None:
    open_protected(exchange)
    fake_binance.faults.block_user_streams()
    fake_binance.faults.liquidate(SYMBOL, "36500")
    fake_binance.faults.unblock_user_streams()
    events = collect(exchange, changed_by(PositionChangeReason.LIQUIDATION))
    [fill] = fills(events)
    [change] = changes(events)
    assert (change.quantity, change.client_order_id) == (D("0"), fill.client_order_id)
    assert fill.client_order_id.startswith("autoclose-")


def sample(name: str) -> dict[str, Any]:
    return json.loads((USER_SAMPLES / name).read_text())


def account_update(symbol: str, amount: str, at: int) -> dict[str, Any]:
    row = {"s": symbol, "pa": amount, "ep": "0", "cr": "0", "up": "0", "mt": "cross", "iw": "0", "ps": "BOTH"}
    return {"e": "ACCOUNT_UPDATE", "E": at, "T": at, "a": {"m": "ORDER", "B": [], "P": [row]}}


def test_translator_account_update_before_the_liquidation_fill_gets_its_reason_when_the_fill_comes() -> None:
    translator = EventTranslator(own_prefix="qt-")
    liquidation = sample("futures_order_update_liquidation.json")
    at = liquidation["data"]["T"]
    translator.translate(parse_user_event(account_update("BTCUSDT", "0", at)))  # Binance may send it first
    translator.translate(parse_user_event(liquidation))
    first, fill, second, state = translator.drain()
    assert isinstance(first, PositionChanged) and first.reason == "account update"
    assert isinstance(fill, Fill) and fill.client_order_id == "autoclose-1234567890123456"
    assert isinstance(state, OrderState) and state.status is OrderStatus.FILLED
    assert second == PositionChanged(
        symbol="BTCUSDT", quantity=Decimal(0), reason="liquidation", at=at, client_order_id="autoclose-1234567890123456"
    )


def test_translator_names_each_kind_of_foreign_order_and_never_our_own() -> None:
    translator = EventTranslator(own_prefix="qt-")
    adl = sample("futures_order_update_adl.json")
    ours = json.loads(json.dumps(adl).replace("adl_autoclose", "qt-x-abc-1"))  # our own id, placed before a restart
    as_liquidation_type = sample("futures_order_update_liquidation.json")
    as_liquidation_type["data"]["o"].update(o="LIQUIDATION", c="some-engine-id")
    for message in (adl, ours, as_liquidation_type):
        data = message["data"]
        translator.translate(parse_user_event(message))
        translator.translate(parse_user_event(account_update(data["o"]["s"], "0", data["T"])))
    reasons = [(e.reason, e.client_order_id) for e in translator.drain() if isinstance(e, PositionChanged)]
    assert reasons == [
        ("auto-deleverage", "adl_autoclose"),
        ("account update", ""),
        ("liquidation", "some-engine-id"),
    ]
