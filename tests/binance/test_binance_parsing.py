"""Parsing of every Binance user-stream and market-stream sample, and of the real stream capture.

Needs ../shared/data/binance (the samples are not copied into the repository).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from exchange.binance.market_events import BookTickerEvent, KlineEvent, MarkPriceEvent, spread_bps
from exchange.binance.payloads import (
    UnknownEvent,
    algo_from_rest,
    balance_from_rest,
    fill_from_rest_trade,
    filters_from_exchange_info,
    order_from_rest,
    position_from_rest,
)
from exchange.binance.user_events import (
    AccountUpdate,
    AlgoUpdate,
    OrderTradeUpdate,
    fill_from_update,
    order_from_algo_update,
    order_from_update,
)
from exchange.port import OrderSide, OrderStatus, OrderType
from scripts.fake_binance.fixtures import needs_shared_data
from scripts.fake_binance.server import SHARED_DATA

# Production's parsers, plus the event kinds the service never reads (the samples hold every kind).
from tests.binance.sample_events import (
    DepthSnapshot,
    DepthUpdateEvent,
    LiquidationEvent,
    TickerEvent,
    TradeEvent,
    TradeLite,
    parse_capture_line,
    parse_market_event,
    parse_user_event,
)

pytestmark = needs_shared_data
BINANCE = SHARED_DATA / "binance"
USER = sorted((BINANCE / "user_stream").glob("*.json"))
MARKET = sorted((BINANCE / "market_stream").glob("*.json"))
CAPTURES = sorted((BINANCE / "ws_capture_excerpts").glob("*.jsonl"))


def load(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.parametrize("path", USER, ids=lambda p: p.stem)
def test_parse_user_event_every_sample_is_known(path: Path) -> None:
    event = parse_user_event(load(path))
    assert not isinstance(event, UnknownEvent)
    expected = {
        "ORDER_TRADE_UPDATE": OrderTradeUpdate,
        "ALGO_UPDATE": AlgoUpdate,
        "ACCOUNT_UPDATE": AccountUpdate,
        "TRADE_LITE": TradeLite,
    }
    kind = load(path).get("data", load(path))["e"]
    assert isinstance(event, expected[kind])


@pytest.mark.parametrize("path", MARKET, ids=lambda p: p.stem)
def test_parse_market_event_every_sample_is_known(path: Path) -> None:
    assert not isinstance(parse_market_event(load(path)), UnknownEvent)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_parse_market_event_real_capture_every_line(path: Path) -> None:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    assert lines
    for line in lines:
        _, message = parse_capture_line(line)
        event = parse_market_event(message)
        assert isinstance(event, (TradeEvent, BookTickerEvent, DepthUpdateEvent, DepthSnapshot)), line[:80]
        if isinstance(event, TradeEvent):
            assert event.symbol == "BTCUSDT" and event.price > 0 and event.quantity > 0
        if isinstance(event, BookTickerEvent):
            assert event.symbol == "BTCUSDT" and event.bid < event.ask
        if isinstance(event, DepthUpdateEvent):
            assert event.first_update_id <= event.final_update_id


def test_parse_capture_line_with_local_timestamp_prefix() -> None:
    stamp, message = parse_capture_line(
        '1723161256322000000 {"e":"trade","E":1,"T":1,"s":"BTCUSDT","t":5,"p":"61800.30","q":"0.006","m":false}'
    )
    assert stamp == 1723161256322000000
    assert parse_market_event(message) == TradeEvent(
        event_time=1,
        symbol="BTCUSDT",
        trade_id=5,
        price=Decimal("61800.30"),
        quantity=Decimal("0.006"),
        trade_time=1,
        buyer_is_maker=False,
    )


def test_parse_user_event_trade_partial_fields() -> None:
    u = parse_user_event(load(BINANCE / "user_stream" / "order_update_trade_partial.json"))
    assert isinstance(u, OrderTradeUpdate)
    assert (u.symbol, u.client_order_id, u.order_id, u.status, u.execution_type) == (
        "BTCUSDT",
        "TEST",
        8886774,
        "PARTIALLY_FILLED",
        "TRADE",
    )
    assert (u.quantity, u.last_qty, u.cum_qty, u.last_price) == (
        Decimal("0.002"),
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal("7100.50"),
    )
    assert (u.fee, u.fee_asset, u.trade_id, u.realized_pnl) == (Decimal("0.01"), "USDT", 12345678, Decimal("12.34"))
    assert u.is_trade


def test_parse_user_event_liquidation_is_a_trade_with_calculated_execution() -> None:
    u = parse_user_event(load(BINANCE / "user_stream" / "futures_order_update_liquidation.json"))
    assert isinstance(u, OrderTradeUpdate) and u.is_trade and u.execution_type == "CALCULATED"
    assert u.client_order_id.startswith("autoclose-") and u.stop_price is None
    fill = fill_from_update(u)
    assert fill is not None and fill.quantity == Decimal("0.100") and fill.realized_pnl == Decimal("-100.00")
    state = order_from_update(u)
    assert state is not None and state.status is OrderStatus.FILLED and state.type is OrderType.MARKET


def test_parse_user_event_zero_quantity_liquidation_is_not_a_fill() -> None:
    u = parse_user_event(load(BINANCE / "user_stream" / "futures_order_update_liquidation_zero_qty.json"))
    assert isinstance(u, OrderTradeUpdate) and not u.is_trade and fill_from_update(u) is None


def test_order_from_update_limit_order_is_not_a_port_order() -> None:
    u = parse_user_event(load(BINANCE / "user_stream" / "order_update_trade.json"))
    assert isinstance(u, OrderTradeUpdate) and order_from_update(u) is None
    assert fill_from_update(u) is not None  # its fill still counts (a position change)


def test_parse_user_event_algo_lifecycle_fields() -> None:
    names = ["futures_algo_update_triggering", "futures_algo_update_triggered", "futures_algo_update_finished"]
    events = [parse_user_event(load(BINANCE / "user_stream" / f"{n}.json")) for n in names]
    assert [e.status for e in events] == ["TRIGGERING", "TRIGGERED", "FINISHED"]  # type: ignore[union-attr]
    triggering, _triggered, finished = events
    assert isinstance(finished, AlgoUpdate) and isinstance(triggering, AlgoUpdate)
    assert triggering.actual_order_id is None and finished.actual_order_id == 88937381063
    assert (finished.client_algo_id, finished.algo_id, finished.trigger_price) == (
        "O-20251211-053131-TEST-000-1",
        1000000033225453,
        Decimal("0.13855"),
    )
    assert (finished.filled_qty, finished.avg_price) == (Decimal("38"), Decimal("0.13856"))
    assert order_from_algo_update(triggering, canceled_by_us=False) is None
    state = order_from_algo_update(finished, canceled_by_us=False)
    assert state is not None and state.status is OrderStatus.FILLED and state.filled_qty == Decimal("38")
    assert state.type is OrderType.STOP_MARKET and state.side is OrderSide.BUY


def test_order_from_algo_update_finished_without_fill_is_expired() -> None:
    u = parse_user_event(load(BINANCE / "user_stream" / "futures_algo_update_finished_canceled.json"))
    assert isinstance(u, AlgoUpdate)
    state = order_from_algo_update(u, canceled_by_us=False)
    assert state is not None and state.status is OrderStatus.EXPIRED


def test_order_from_algo_update_cancel_is_ours_only_when_we_asked() -> None:
    u = parse_user_event(load(BINANCE / "user_stream" / "algo_update_canceled.json"))
    assert isinstance(u, AlgoUpdate) and u.reason == "Reduce Only reject"
    # TAKE_PROFIT (limit) is not a port order type
    assert order_from_algo_update(u, canceled_by_us=True) is None


def test_parse_user_event_account_update_fields() -> None:
    u = parse_user_event(load(BINANCE / "user_stream" / "account_update.json"))
    assert isinstance(u, AccountUpdate) and u.reason == "ORDER"
    assert u.balances[0].wallet_balance == Decimal("122624.12345678")
    assert [(p.quantity, p.position_side) for p in u.positions] == [
        (Decimal("0"), "BOTH"),
        (Decimal("20"), "LONG"),
        (Decimal("-10"), "SHORT"),
    ]
    old = parse_user_event(load(BINANCE / "user_stream" / "old_ws_futures_account_update.json"))
    assert isinstance(old, AccountUpdate) and old.balances[0].balance_change == 0  # no "bc" in the old shape


def test_parse_user_event_listen_key_expired_and_unknown() -> None:
    from exchange.binance.user_events import ListenKeyExpired

    assert parse_user_event({"e": "listenKeyExpired", "E": 5, "listenKey": "k"}) == ListenKeyExpired(
        event_time=5, listen_key="k"
    )
    assert isinstance(parse_user_event({"e": "STRATEGY_UPDATE", "E": 1}), UnknownEvent)


def test_parse_market_event_kline_closed_gives_candle() -> None:
    k = parse_market_event(load(BINANCE / "market_stream" / "kline_stream_closed.json"))
    assert isinstance(k, KlineEvent) and k.closed
    candle = k.candle()
    assert (candle.symbol, candle.open_time, candle.interval_ms) == ("BTCUSDT", 1638747660000, 60_000)
    assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == (0.001, 0.0025, 0.001, 0.002, 1000.0)
    assert not parse_market_event(load(BINANCE / "market_stream" / "kline_stream_open.json")).closed  # type: ignore


def test_parse_market_event_mark_price_liquidation_ticker() -> None:
    m = parse_market_event(load(BINANCE / "market_stream" / "mark_price_stream.json"))
    assert (
        isinstance(m, MarkPriceEvent) and m.mark_price == Decimal("11794.15") and m.next_funding_time == 1562306400000
    )
    assert isinstance(parse_market_event(load(BINANCE / "market_stream" / "liquidation_stream.json")), LiquidationEvent)
    t = parse_market_event(load(BINANCE / "market_stream" / "ticker_stream.json"))
    assert isinstance(t, TickerEvent) and t.last_price == Decimal("16584.6")


def test_parse_market_event_book_ticker_samples_and_real_capture_give_the_spread() -> None:
    for name in ("futures_book_ticker.json", "book_ticker_stream.json"):
        book = parse_market_event(load(BINANCE / "market_stream" / name))
        assert isinstance(book, BookTickerEvent) and book.symbol == "BNBUSDT" and book.update_id == 400900217
        assert (book.bid, book.bid_qty, book.ask, book.ask_qty) == (
            Decimal("25.35190000"),
            Decimal("31.21000000"),
            Decimal("25.36520000"),
            Decimal("40.66000000"),
        )
        assert book.spread_bps == pytest.approx(5.2448, abs=1e-4)  # 0.0133 over a 25.35855 mid
    capture = BINANCE.parent / "binance" / "ws_capture_excerpts" / "excerpt_bookTicker.jsonl"
    _, first = parse_capture_line(capture.read_text().splitlines()[0])
    real = parse_market_event(first)
    assert isinstance(real, BookTickerEvent) and (real.bid, real.ask) == (Decimal("61800.20"), Decimal("61800.30"))
    assert real.spread_bps == pytest.approx(0.01618, abs=1e-5)  # one 0.1 tick on BTCUSDT: a sixtieth of a bps


@pytest.mark.parametrize(
    ("change", "kind"),
    [({"b": "0"}, ValueError), ({"a": ""}, ValueError), ({"b": "25.4"}, ValueError), ({"s": 7}, TypeError)],
)
def test_parse_market_event_book_ticker_one_sided_crossed_or_malformed_raises(
    change: dict[str, object], kind: type[Exception]
) -> None:
    ticker = {"e": "bookTicker", "u": 1, "E": 1, "s": "BNBUSDT", "b": "25.35", "B": "1", "a": "25.36", "A": "1"}
    with pytest.raises(kind):
        parse_market_event(ticker | change)


def test_spread_bps_of_the_mid() -> None:
    assert spread_bps(Decimal("99"), Decimal("101")) == pytest.approx(200.0)
    assert spread_bps(Decimal("100"), Decimal("100")) == 0.0


def test_filters_from_exchange_info_real_capture() -> None:
    filters = filters_from_exchange_info(load(BINANCE / "rest" / "futures_market_exchange_info.json"))
    assert set(filters) == {"BTCUSDT", "ETHUSDT", "BTCUSDT_220325"}
    btc = filters["BTCUSDT"]
    assert (btc.tick_size, btc.step_size, btc.min_qty, btc.min_notional) == (
        Decimal("0.10"),
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal("10"),
    )


def test_rest_samples_convert_to_port_types() -> None:
    rest = BINANCE / "rest"
    assert order_from_rest(load(rest / "order_response.json")) is None  # LIMIT: not a port order
    algo = algo_from_rest(load(rest / "open_algo_orders.json")[0], None, canceled_by_us=False)
    assert algo is not None and algo.status is OrderStatus.NEW and algo.trigger_price == Decimal("45000.00")
    position = position_from_rest(load(rest / "position_risk.json")[0])
    assert position is not None and position.quantity == Decimal("0.001") and position.mark_price == Decimal("51000")
    assert position_from_rest(load(rest / "futures_account_positions_one_way.json")[0]) is None
    balance = balance_from_rest(load(rest / "balance.json"))
    assert balance.wallet_balance == Decimal("122.12345678") and balance.unrealized_pnl == 0


def test_fill_fee_asset_comes_from_the_commission_asset_of_the_update_and_of_the_trade() -> None:
    update = load(BINANCE / "user_stream" / "order_update_trade_partial.json")
    update["o"]["N"] = "BNB"
    u = parse_user_event(update)
    assert isinstance(u, OrderTradeUpdate)
    fill = fill_from_update(u)
    assert fill is not None and (fill.fee, fill.fee_asset) == (Decimal("0.01"), "BNB")
    [trade] = load(BINANCE / "rest" / "futures_account_trades.json")[:1]
    read = fill_from_rest_trade({**trade, "commissionAsset": "BNB"}, "cid")
    assert read.fee_asset == "BNB" and fill_from_rest_trade(trade, "cid").fee_asset == trade["commissionAsset"]
