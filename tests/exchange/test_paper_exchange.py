"""The paper exchange: fills, triggers, reduce-only rules, bookkeeping and state round-trip."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.market import Candle, SymbolFilters
from exchange.paper.exchange import PaperExchange
from exchange.port import (
    ExchangePort,
    Fill,
    OrderRejected,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderStatus,
    OrderType,
    RejectCode,
    UnknownSymbol,
)

BTC = "BTCUSDT"
MINUTE = 60_000

BUY, SELL = OrderSide.BUY, OrderSide.SELL
MARKET, STOP, TP = OrderType.MARKET, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET


def make_exchange(*, fee: str = "0.0004", slippage: str = "0") -> PaperExchange:
    return PaperExchange(starting_balance=D("10000"), fee_rate=D(fee), slippage_bps=D(slippage))


def candle(minute: int, o: float, h: float, l: float, c: float, symbol: str = BTC) -> Candle:
    return Candle(symbol=symbol, open_time=minute * MINUTE, open=o, high=h, low=l, close=c, volume=1.0)


def flat(minute: int, price: float, symbol: str = BTC) -> Candle:
    return candle(minute, price, price, price, price, symbol)


def order(
    cid: str,
    side: OrderSide,
    qty: str,
    type_: OrderType = MARKET,
    trigger: str | None = None,
    reduce_only: bool = False,
    symbol: str = BTC,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        type=type_,
        quantity=D(qty),
        trigger_price=None if trigger is None else D(trigger),
        reduce_only=reduce_only,
    )


def fills(events: tuple[Fill | OrderState, ...]) -> list[Fill]:
    return [e for e in events if isinstance(e, Fill)]


def open_long(ex: PaperExchange, qty: str, price: float, minute: int = 0) -> None:
    """A long of `qty` entered at `price` (the open of candle `minute + 1`); events drained."""
    ex.on_candle(flat(minute, price))
    ex.place_order(order("entry", BUY, qty))
    ex.on_candle(flat(minute + 1, price))
    ex.drain_events()


def reject_code(ex: PaperExchange, request: OrderRequest) -> int:
    with pytest.raises(OrderRejected) as raised:
        ex.place_order(request)
    return raised.value.code


def test_paper_exchange_implements_port_protocol() -> None:
    assert isinstance(make_exchange(), ExchangePort)


def test_paper_health_is_always_healthy_even_while_trading() -> None:
    ex = make_exchange()
    assert ex.health() == ""
    ex.on_candle(flat(0, 50_000.0))
    ex.place_order(order("m1", BUY, "0.010"))
    ex.on_candle(flat(1, 50_000.0))
    assert ex.positions() and ex.health() == ""


def test_market_order_before_next_candle_stays_unfilled() -> None:
    ex = make_exchange()
    ex.on_candle(flat(0, 50_000.0))
    state = ex.place_order(order("m1", BUY, "0.010"))
    assert state.status is OrderStatus.NEW
    assert ex.positions() == ()
    assert [e.status for e in ex.drain_events() if isinstance(e, OrderState)] == [OrderStatus.NEW]


def test_market_order_next_candle_fills_at_open_with_slippage_and_fee() -> None:
    ex = make_exchange(slippage="2")
    ex.on_candle(flat(0, 50_000.0))
    ex.place_order(order("m1", BUY, "0.010"))
    ex.on_candle(candle(1, 50_100.0, 50_300.0, 49_900.0, 50_200.0))
    (fill,) = fills(ex.drain_events())
    # 50100 * 1.0002 = 50110.02, rounded up (against the buyer) to the 0.1 tick.
    assert fill.price == D("50110.1")
    assert fill.fee == D("0.2004404")  # 0.010 * 50110.1 * 0.0004
    assert fill.at == 1 * MINUTE
    assert ex.balance().wallet_balance == D("9999.7995596")
    (position,) = ex.positions()
    assert (position.quantity, position.entry_price) == (D("0.010"), D("50110.1"))
    assert position.unrealized_pnl == D("0.899")  # 0.010 * (50200 - 50110.1)


def test_market_sell_slippage_rounds_down_against_seller() -> None:
    ex = make_exchange(slippage="2")
    ex.on_candle(flat(0, 50_000.0))
    ex.place_order(order("s1", SELL, "0.010"))
    ex.on_candle(flat(1, 50_100.0))
    (fill,) = fills(ex.drain_events())
    assert fill.price == D("50089.9")  # 50100 * 0.9998 = 50089.98 -> 50089.9


def test_events_after_fill_come_in_order_and_drain_empties_queue() -> None:
    ex = make_exchange()
    ex.on_candle(flat(0, 50_000.0))
    ex.place_order(order("m1", BUY, "0.010"))
    ex.on_candle(flat(1, 50_000.0))
    kinds = [(type(e).__name__, getattr(e, "status", None)) for e in ex.drain_events()]
    assert kinds == [("OrderState", OrderStatus.NEW), ("Fill", None), ("OrderState", OrderStatus.FILLED)]
    assert ex.drain_events() == ()


def test_stop_and_take_profit_both_in_range_stop_fills_first() -> None:
    ex = make_exchange()
    open_long(ex, "0.100", 50_000.0)
    ex.place_order(order("sl", SELL, "0.100", STOP, "49000", reduce_only=True))
    ex.place_order(order("tp", SELL, "0.100", TP, "51000", reduce_only=True))
    ex.on_candle(candle(2, 50_000.0, 51_500.0, 48_500.0, 50_000.0))
    (fill,) = fills(ex.drain_events())
    assert (fill.client_order_id, fill.price, fill.realized_pnl) == ("sl", D("49000"), D("-100"))
    assert fill.at == 3 * MINUTE  # intrabar: known at the candle's close
    assert ex.get_order(BTC, "tp").status is OrderStatus.EXPIRED
    assert ex.positions() == ()
    assert ex.open_orders() == ()


def test_stop_gapped_through_fills_at_open() -> None:
    ex = make_exchange()
    open_long(ex, "0.100", 50_000.0)
    ex.place_order(order("sl", SELL, "0.100", STOP, "49000", reduce_only=True))
    ex.on_candle(candle(2, 48_000.0, 48_500.0, 47_500.0, 48_200.0))
    (fill,) = fills(ex.drain_events())
    assert (fill.price, fill.realized_pnl, fill.at) == (D("48000"), D("-200"), 2 * MINUTE)


def test_stop_gapped_through_fills_at_open_with_slippage() -> None:
    ex = make_exchange(slippage="10")
    open_long(ex, "0.100", 50_000.0)
    entry = ex.positions()[0].entry_price
    ex.place_order(order("sl", SELL, "0.100", STOP, "49000", reduce_only=True))
    ex.on_candle(candle(2, 48_000.0, 48_500.0, 47_500.0, 48_200.0))
    (fill,) = fills(ex.drain_events())
    assert fill.price == D("47952")  # 48000 * 0.999
    assert fill.realized_pnl == D("0.100") * (D("47952") - entry)


def test_take_profit_gapped_at_open_fills_before_intrabar_stop() -> None:
    ex = make_exchange()
    open_long(ex, "0.100", 50_000.0)
    ex.place_order(order("sl", SELL, "0.100", STOP, "49000", reduce_only=True))
    ex.place_order(order("tp", SELL, "0.100", TP, "51000", reduce_only=True))
    # The open is already past the take-profit: it executed before the price could reach the stop.
    ex.on_candle(candle(2, 52_000.0, 52_500.0, 48_000.0, 50_000.0))
    (fill,) = fills(ex.drain_events())
    assert (fill.client_order_id, fill.price, fill.realized_pnl) == ("tp", D("52000"), D("200"))
    assert ex.get_order(BTC, "sl").status is OrderStatus.EXPIRED


def test_resting_stop_candle_above_trigger_does_not_fill() -> None:
    ex = make_exchange()
    open_long(ex, "0.100", 50_000.0)
    ex.place_order(order("sl", SELL, "0.100", STOP, "49000", reduce_only=True))
    ex.on_candle(candle(2, 50_000.0, 50_500.0, 49_000.1, 50_000.0))
    assert fills(ex.drain_events()) == []
    assert ex.get_order(BTC, "sl").status is OrderStatus.NEW


def test_stop_low_exactly_at_trigger_fills() -> None:
    ex = make_exchange()
    open_long(ex, "0.100", 50_000.0)
    ex.place_order(order("sl", SELL, "0.100", STOP, "49000", reduce_only=True))
    ex.on_candle(candle(2, 50_000.0, 50_500.0, 49_000.0, 50_000.0))
    assert [f.price for f in fills(ex.drain_events())] == [D("49000")]


def test_short_stop_triggers_on_high_and_take_profit_on_low() -> None:
    ex = make_exchange(fee="0")
    ex.on_candle(flat(0, 50_000.0))
    ex.place_order(order("entry", SELL, "0.100"))
    ex.on_candle(flat(1, 50_000.0))
    ex.place_order(order("tp", BUY, "0.050", TP, "49000", reduce_only=True))
    ex.place_order(order("sl", BUY, "0.100", STOP, "51000", reduce_only=True))
    ex.on_candle(candle(2, 50_000.0, 50_200.0, 48_900.0, 49_500.0))
    ex.on_candle(candle(3, 49_500.0, 51_100.0, 49_400.0, 51_000.0))
    got = [(f.client_order_id, f.quantity, f.price, f.realized_pnl) for f in fills(ex.drain_events())]
    assert got == [
        ("entry", D("0.100"), D("50000"), D("0")),
        ("tp", D("0.050"), D("49000"), D("50")),
        ("sl", D("0.050"), D("51000"), D("-50")),
    ]
    assert ex.balance().wallet_balance == D("10000")


def test_partial_take_profit_then_stop_clips_stop_to_remaining_position() -> None:
    ex = make_exchange()
    open_long(ex, "0.200", 50_000.0)
    ex.place_order(order("tp1", SELL, "0.100", TP, "51000", reduce_only=True))
    ex.place_order(order("sl", SELL, "0.200", STOP, "49000", reduce_only=True))
    ex.on_candle(candle(2, 50_000.0, 51_200.0, 50_500.0, 51_000.0))
    assert ex.positions()[0].quantity == D("0.100")
    ex.on_candle(candle(3, 51_000.0, 51_000.0, 48_900.0, 49_100.0))
    got = [(f.client_order_id, f.quantity, f.realized_pnl, f.fee) for f in fills(ex.drain_events())]
    assert got == [("tp1", D("0.100"), D("100"), D("2.04")), ("sl", D("0.100"), D("-100"), D("1.96"))]
    stop = ex.get_order(BTC, "sl")
    assert (stop.status, stop.filled_qty, stop.quantity) == (OrderStatus.FILLED, D("0.100"), D("0.200"))
    assert ex.positions() == ()
    # Entry fee 0.200 * 50000 * 0.0004 = 4, then 2.04 and 1.96; the PnL nets to zero.
    assert ex.balance().wallet_balance == D("9992")


def test_reduce_only_market_larger_than_position_clips_and_never_flips() -> None:
    ex = make_exchange()
    open_long(ex, "0.100", 50_000.0)
    ex.place_order(order("close", SELL, "0.300", reduce_only=True))
    ex.on_candle(flat(2, 50_500.0))
    (fill,) = fills(ex.drain_events())
    assert (fill.quantity, fill.realized_pnl) == (D("0.100"), D("50"))
    assert ex.positions() == ()


def test_reduce_only_when_flat_is_rejected() -> None:
    ex = make_exchange()
    ex.on_candle(flat(0, 50_000.0))
    assert reject_code(ex, order("ro", SELL, "0.100", STOP, "49000", reduce_only=True)) == RejectCode.REDUCE_ONLY_REJECT
    assert ex.get_order(BTC, "ro") is None


def test_reduce_only_on_same_side_as_position_is_rejected() -> None:
    ex = make_exchange()
    open_long(ex, "0.100", 50_000.0)
    assert reject_code(ex, order("ro", BUY, "0.100", reduce_only=True)) == RejectCode.REDUCE_ONLY_REJECT


def test_reduce_only_orders_position_closed_by_market_expire() -> None:
    ex = make_exchange()
    open_long(ex, "0.100", 50_000.0)
    ex.place_order(order("sl", SELL, "0.100", STOP, "49000", reduce_only=True))
    ex.place_order(order("close", SELL, "0.100", reduce_only=True))
    ex.on_candle(candle(2, 50_000.0, 50_000.0, 48_000.0, 48_500.0))
    assert [f.client_order_id for f in fills(ex.drain_events())] == ["close"]
    assert ex.get_order(BTC, "sl").status is OrderStatus.EXPIRED


def test_reduce_only_orders_position_flipped_expire() -> None:
    ex = make_exchange(fee="0")
    open_long(ex, "0.100", 50_000.0)
    ex.place_order(order("sl", SELL, "0.100", STOP, "49000", reduce_only=True))
    ex.place_order(order("flip", SELL, "0.300"))
    ex.on_candle(flat(2, 50_500.0))
    (fill,) = fills(ex.drain_events())
    assert fill.realized_pnl == D("50")  # only the closed 0.100 realizes
    (position,) = ex.positions()
    assert (position.quantity, position.entry_price) == (D("-0.200"), D("50500"))
    assert ex.get_order(BTC, "sl").status is OrderStatus.EXPIRED


def test_adding_to_position_averages_entry_price() -> None:
    ex = make_exchange(fee="0")
    open_long(ex, "0.100", 50_000.0)
    ex.place_order(order("add", BUY, "0.200"))
    ex.on_candle(flat(2, 50_300.0))
    (position,) = ex.positions()
    assert (position.quantity, position.entry_price) == (D("0.300"), D("50200"))


def test_duplicate_client_order_id_rejected_and_original_untouched() -> None:
    ex = make_exchange()
    ex.on_candle(flat(0, 50_000.0))
    first = ex.place_order(order("dup", BUY, "0.010"))
    assert reject_code(ex, order("dup", BUY, "0.010")) == RejectCode.DUPLICATED_CLIENT_ORDER_ID
    assert ex.get_order(BTC, "dup") == first
    ex.on_candle(flat(1, 50_000.0))
    assert len(fills(ex.drain_events())) == 1
    # A finished order's id stays taken too: a resend after a fill is still a double send.
    assert reject_code(ex, order("dup", BUY, "0.010")) == RejectCode.DUPLICATED_CLIENT_ORDER_ID
    assert ex.positions()[0].quantity == D("0.010")


def test_cancel_open_stop_removes_it_and_it_never_fills() -> None:
    ex = make_exchange()
    open_long(ex, "0.100", 50_000.0)
    ex.place_order(order("sl", SELL, "0.100", STOP, "49000", reduce_only=True))
    cancelled = ex.cancel_order(BTC, "sl")
    assert cancelled.status is OrderStatus.CANCELED
    assert ex.open_orders(BTC) == ()
    ex.on_candle(candle(2, 50_000.0, 50_000.0, 40_000.0, 45_000.0))
    events = ex.drain_events()
    assert fills(events) == []
    assert events[-1] == cancelled
    assert ex.positions()[0].quantity == D("0.100")


def test_cancel_final_or_unknown_order_rejected_unknown_order() -> None:
    ex = make_exchange()
    open_long(ex, "0.100", 50_000.0)
    ex.place_order(order("sl", SELL, "0.100", STOP, "49000", reduce_only=True))
    ex.cancel_order(BTC, "sl")
    for symbol, cid in ((BTC, "sl"), (BTC, "nope"), (BTC, "entry"), ("ETHUSDT", "sl")):
        with pytest.raises(OrderRejected) as raised:
            ex.cancel_order(symbol, cid)
        assert raised.value.code == RejectCode.UNKNOWN_ORDER


def test_get_order_by_client_id_returns_latest_state_or_none() -> None:
    ex = make_exchange()
    ex.on_candle(flat(0, 50_000.0))
    placed = ex.place_order(order("m1", BUY, "0.010"))
    assert ex.get_order(BTC, "m1") == placed
    ex.on_candle(flat(1, 50_000.0))
    found = ex.get_order(BTC, "m1")
    assert (found.status, found.filled_qty, found.avg_price) == (OrderStatus.FILLED, D("0.010"), D("50000"))
    assert found.exchange_order_id == placed.exchange_order_id
    assert ex.get_order(BTC, "never-sent") is None
    assert ex.get_order("ETHUSDT", "m1") is None


def test_rejected_request_leaves_no_order_and_frees_its_client_id() -> None:
    ex = make_exchange()
    ex.on_candle(flat(0, 50_000.0))
    assert reject_code(ex, order("x1", BUY, "0.0105")) == RejectCode.QTY_NOT_INCREASED_BY_STEP_SIZE
    assert ex.get_order(BTC, "x1") is None
    assert ex.place_order(order("x1", BUY, "0.010")).status is OrderStatus.NEW


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (order("a", BUY, "0"), RejectCode.QTY_LESS_THAN_ZERO),
        (order("a", BUY, "0.0001"), RejectCode.QTY_NOT_INCREASED_BY_STEP_SIZE),
        (order("a", BUY, "0.001"), RejectCode.MIN_NOTIONAL),  # 0.001 * 50000 = 50 < 100
        (order("a", BUY, "0.010", STOP, "51000.05"), RejectCode.PRICE_NOT_INCREASED_BY_TICK_SIZE),
        (order("a", BUY, "0.010", STOP, "49000"), RejectCode.ORDER_WOULD_IMMEDIATELY_TRIGGER),
        (order("a", SELL, "0.010", TP, "49000"), RejectCode.ORDER_WOULD_IMMEDIATELY_TRIGGER),
        (order("a", BUY, "0.010", STOP), RejectCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED),
        (order("a", BUY, "0.010", MARKET, "51000"), RejectCode.PARAM_NOT_REQUIRED),
        (order("a b", BUY, "0.010"), RejectCode.ILLEGAL_CHARS),
        (order("a" * 37, BUY, "0.010"), RejectCode.INVALID_CLIENT_ORDER_ID),
        (order("a", BUY, "0.010", symbol="NOPEUSDT"), RejectCode.BAD_SYMBOL),
    ],
)
def test_place_order_invalid_request_rejected_with_binance_code(request_: OrderRequest, code: RejectCode) -> None:
    ex = PaperExchange(
        starting_balance=D("10000"),
        fee_rate=D("0.0004"),
        slippage_bps=D("0"),
        filters={
            BTC: SymbolFilters(
                tick_size=D("0.1"),
                step_size=D("0.001"),
                min_qty=D("0.001"),
                min_notional=D("100"),
            )
        },
    )
    ex.on_candle(flat(0, 50_000.0))
    assert reject_code(ex, request_) == code
    assert ex.open_orders() == () and ex.drain_events() == ()


def test_symbol_filters_unknown_symbol_derived_from_price_and_kept() -> None:
    ex = make_exchange()
    with pytest.raises(UnknownSymbol):
        ex.symbol_filters("FOOUSDT")
    ex.on_candle(flat(0, 1.2345, symbol="FOOUSDT"))
    filters = ex.symbol_filters("FOOUSDT")
    assert (filters.tick_size, filters.step_size, filters.min_notional) == (D("0.0001"), D("1"), D("5"))
    ex.on_candle(flat(1, 123.45, symbol="FOOUSDT"))
    assert ex.symbol_filters("FOOUSDT") == filters


def test_set_symbol_filters_overrides_default() -> None:
    ex = make_exchange()
    custom = SymbolFilters(tick_size=D("1"), step_size=D("0.01"), min_qty=D("0.01"), min_notional=D("5"))
    ex.set_symbol_filters(BTC, custom)
    ex.on_candle(flat(0, 50_000.0))
    assert reject_code(ex, order("a", BUY, "0.001")) == RejectCode.QTY_NOT_INCREASED_BY_STEP_SIZE


def test_paper_refresh_filters_keeps_the_rules_it_has() -> None:
    ex = make_exchange()
    ex.on_candle(flat(0, 50_000.0))
    derived = ex.symbol_filters(BTC)
    ex.on_candle(flat(1, 500.0))  # a price a hundred times lower would derive other rules
    ex.refresh_filters()
    assert ex.symbol_filters(BTC) == derived


def test_short_round_trip_wallet_and_equity_exact() -> None:
    ex = make_exchange(fee="0.0005")
    ex.on_candle(flat(0, 3_000.0, symbol="ETHUSDT"))
    ex.place_order(order("e", SELL, "1.250", symbol="ETHUSDT"))
    ex.on_candle(candle(1, 3_000.01, 3_010.0, 2_990.0, 2_950.55, symbol="ETHUSDT"))
    # fee 1.250 * 3000.01 * 0.0005 = 1.87500625; unrealized 1.250 * (3000.01 - 2950.55) short = 61.825
    assert ex.balance().wallet_balance == D("9998.12499375")
    assert ex.balance().unrealized_pnl == D("61.825")
    assert ex.equity() == D("10059.94999375")
    ex.place_order(order("x", BUY, "1.250", reduce_only=True, symbol="ETHUSDT"))
    ex.on_candle(flat(2, 2_950.55, symbol="ETHUSDT"))
    # realized 61.825, exit fee 1.250 * 2950.55 * 0.0005 = 1.84409375
    assert ex.balance().wallet_balance == D("10058.1059")
    assert ex.equity() == ex.balance().wallet_balance


def test_to_state_json_round_trip_behaves_identically() -> None:
    ex = make_exchange(slippage="3")
    open_long(ex, "0.200", 50_000.0)
    ex.place_order(order("tp", SELL, "0.100", TP, "51000", reduce_only=True))
    ex.place_order(order("sl", SELL, "0.200", STOP, "49000", reduce_only=True))
    ex.on_candle(flat(2, 50_000.0, symbol="FOOUSDT"))
    ex.place_order(order("foo", BUY, "1", symbol="FOOUSDT"))  # pending market, undrained events
    restored = PaperExchange.from_state(json.loads(json.dumps(ex.to_state())))
    assert restored.to_state() == ex.to_state()
    assert restored.drain_events() == ex.drain_events()
    tape = [
        candle(3, 50_100.0, 51_300.0, 50_050.0, 51_000.0),
        flat(3, 50_500.5, symbol="FOOUSDT"),
        candle(4, 51_000.0, 51_000.0, 48_800.0, 49_000.0),
    ]
    for bar in tape:
        ex.on_candle(bar)
        restored.on_candle(bar)
    events = ex.drain_events()
    assert len(fills(events)) == 3
    assert restored.drain_events() == events
    assert restored.balance() == ex.balance() and restored.positions() == ex.positions()
    assert restored.to_state() == ex.to_state()


def test_from_state_wrong_version_refused() -> None:
    state = make_exchange().to_state() | {"version": 99}
    with pytest.raises(ValueError, match="version"):
        PaperExchange.from_state(state)


def test_idle_symbol_candle_changes_only_mark_price() -> None:
    ex = make_exchange()
    open_long(ex, "0.100", 50_000.0)
    before = ex.to_state()
    ex.on_candle(candle(2, 50_000.0, 60_000.0, 40_000.0, 50_100.0))
    after = ex.to_state()
    assert after["last_prices"][BTC] == "50100.0" and after["now"] == 3 * MINUTE
    assert {k: v for k, v in after.items() if k not in ("last_prices", "now")} == {
        k: v for k, v in before.items() if k not in ("last_prices", "now")
    }
    assert ex.positions()[0].unrealized_pnl == D("10")


# --- property: the wallet is exactly the sum of what the fills say ------------------

_actions = st.lists(
    st.one_of(
        st.tuples(st.just("candle"), st.integers(400_000, 600_000), st.integers(0, 20_000), st.integers(0, 20_000)),
        st.tuples(st.just("market"), st.sampled_from([BUY, SELL]), st.integers(1, 500), st.booleans()),
        st.tuples(st.just("stop"), st.sampled_from([BUY, SELL]), st.integers(1, 500), st.integers(-20_000, 20_000)),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(
    actions=_actions,
    fee=st.sampled_from(["0", "0.0002", "0.0004", "0.00075"]),
    slippage=st.sampled_from(["0", "1.5", "7"]),
)
def test_random_orders_and_candles_wallet_equals_start_plus_realized_minus_fees(
    actions: list[tuple],
    fee: str,
    slippage: str,
) -> None:
    ex = make_exchange(fee=fee, slippage=slippage)
    ex.on_candle(flat(0, 50_000.0))
    minute, seen = 1, []
    for n, action in enumerate(actions):
        if action[0] == "candle":
            _, open_ticks, up, down = action
            o = open_ticks / 10
            ex.on_candle(candle(minute, o, o + up / 10, o - down / 10, o + (up - down) / 20))
            minute += 1
        else:
            kind, side, steps, extra = action
            if kind == "market":
                request = order(f"o{n}", side, str(D(steps) / 1000), reduce_only=extra)
            else:
                last_tick = (ex.last_price(BTC) * 10).to_integral_value()
                trigger = str((last_tick + extra) / D(10))
                request = order(f"o{n}", side, str(D(steps) / 1000), STOP, trigger, reduce_only=True)
            with contextlib.suppress(OrderRejected):
                ex.place_order(request)
        seen.extend(fills(ex.drain_events()))
    realized = sum((f.realized_pnl for f in seen), D(0))
    fees = sum((f.fee for f in seen), D(0))
    assert ex.balance().wallet_balance == D("10000") + realized - fees
    net = sum((f.quantity if f.side is BUY else -f.quantity for f in seen), D(0))
    assert sum((p.quantity for p in ex.positions()), D(0)) == net


def test_paper_exchange_forgets_old_finished_orders_but_keeps_open_ones_and_recent_ones():
    from exchange.paper import book

    ex = make_exchange()
    ex.on_candle(candle(0, 100, 100, 100, 100))
    stop = OrderRequest(
        client_order_id="keep-stop",
        symbol="BTCUSDT",
        side=OrderSide.SELL,
        type=OrderType.STOP_MARKET,
        quantity=D("0.1"),
        trigger_price=D("50"),
        reduce_only=False,
    )
    ex.place_order(stop)
    total = 2 * book.KEEP_FINISHED + 10
    for n in range(total):
        side = OrderSide.BUY if n % 2 == 0 else OrderSide.SELL
        ex.place_order(
            OrderRequest(client_order_id=f"m{n}", symbol="BTCUSDT", side=side, type=OrderType.MARKET, quantity=D("0.1"))
        )
        ex.on_candle(candle(n + 1, 100, 100, 100, 100))
    state = ex.to_state()
    assert len(state["orders"]) <= 2 * book.KEEP_FINISHED + 1
    assert ex.get_order("BTCUSDT", "keep-stop") is not None  # open: never forgotten
    assert ex.get_order("BTCUSDT", f"m{total - 1}") is not None and ex.order_fills("BTCUSDT", f"m{total - 1}")
    assert ex.get_order("BTCUSDT", "m0") is None  # aged out
