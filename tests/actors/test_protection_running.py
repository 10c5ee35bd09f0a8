"""The protection invariant while the service runs (paper exchange, real actors): what the exchange or a person
does to a position between two starts is seen within a minute, not at the next start."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from actors.execution.recovery import ExchangeFacts, PositionFacts, plan
from actors.messages import Side
from exchange.port import ExchangePosition, OrderRequest, OrderSide, OrderState, OrderStatus, OrderType
from tests.actors.harness import WIDE_STOPS, Harness

D = Decimal


def _open_position(h: Harness) -> None:
    h.calm(160)
    h.signal("BTCUSDT", "LONG", 0.8)
    h.until(lambda: bool(h.positions()) and h.positions()[0][1] == "open", limit=3)


def _stops(h: Harness) -> list[OrderState]:
    return [o for o in h.system.ctx.exchange.open_orders("BTCUSDT") if o.type is OrderType.STOP_MARKET]


def test_position_closed_by_hand_while_running_is_closed_with_the_reason(tmp_path: Path) -> None:
    h = Harness(tmp_path, exit_modes=WIDE_STOPS)
    try:
        _open_position(h)
        (held,) = h.system.ctx.exchange.positions()
        h.system.ctx.exchange.place_order(
            OrderRequest(
                client_order_id="web_closed_by_hand",
                symbol="BTCUSDT",
                side=OrderSide.SELL,
                type=OrderType.MARKET,
                quantity=abs(held.quantity),
                reduce_only=True,
            )
        )
        h.until(lambda: h.positions()[0][1] == "closed", limit=3)  # within a minute: one step is a minute here
        ((reason,),) = h.rows("SELECT reason FROM transitions WHERE trigger = 'reconcile'")
        assert "by the exchange or by hand" in reason
        assert h.system.ctx.exchange.positions() == ()
    finally:
        h.stop()


def test_stop_cancelled_by_hand_while_running_is_placed_again_covering_the_position(tmp_path: Path) -> None:
    h = Harness(tmp_path, exit_modes=WIDE_STOPS)
    try:
        _open_position(h)
        (stop,) = _stops(h)
        h.system.ctx.exchange.cancel_order("BTCUSDT", stop.client_order_id)
        assert _stops(h) == []
        h.step()
        (again,) = _stops(h)
        (held,) = h.system.ctx.exchange.positions()
        assert again.client_order_id != stop.client_order_id
        assert again.quantity == abs(held.quantity) and again.trigger_price == stop.trigger_price
        assert h.positions()[0][1] == "open"
    finally:
        h.stop()


def _order(cid: str, status: OrderStatus, quantity: str, filled: str = "0", kind: OrderType = OrderType.STOP_MARKET):
    return OrderState(
        client_order_id=cid,
        exchange_order_id=1,
        symbol="BTCUSDT",
        side=OrderSide.SELL,
        type=kind,
        quantity=D(quantity),
        trigger_price=D("90"),
        reduce_only=True,
        status=status,
        filled_qty=D(filled),
    )


def _held(qty: str) -> dict[str, ExchangePosition]:
    return {"BTCUSDT": ExchangePosition(symbol="BTCUSDT", quantity=D(qty), entry_price=D("100"), unrealized_pnl=D("0"))}


def test_plan_stop_covering_part_of_the_position_is_placed_again() -> None:
    facts = [
        PositionFacts(
            "p-1",
            "BTCUSDT",
            Side.LONG,
            "open",
            D("1.0"),
            entry=_order("qt-e-1-0", OrderStatus.FILLED, "1.0", "1.0", OrderType.MARKET),
            orders={"sl": _order("qt-sl-1-0", OrderStatus.NEW, "0.3")},
            applied={"qt-e-1-0": D("1.0")},
        )
    ]
    (action,) = plan(facts, ExchangeFacts(held=_held("1.0"), open_orders=()), "qt", positions_only=True)
    assert action.kind == "reprotect" and action.purposes == ("sl",) and "covers 0.3 of 1.0" in action.detail


def test_plan_entry_trades_not_applied_yet_are_applied_not_halted() -> None:
    facts = [
        PositionFacts(
            "p-1",
            "BTCUSDT",
            Side.LONG,
            "open",
            D("0.3"),
            entry=_order("qt-e-1-0", OrderStatus.FILLED, "1.0", "1.0", OrderType.MARKET),
            orders={"sl": _order("qt-sl-1-0", OrderStatus.NEW, "0.3")},
            applied={"qt-e-1-0": D("0.3")},
        )
    ]
    actions = plan(facts, ExchangeFacts(held=_held("1.0"), open_orders=()), "qt", positions_only=True)
    assert [a.kind for a in actions] == ["apply_fills", "reprotect"]
    assert actions[0].purposes == ("e",) and "entry filled 0.7 more" in actions[0].detail
    assert actions[1].purposes == ("sl",)


def test_plan_stop_filled_with_quantity_left_is_missing() -> None:
    facts = [
        PositionFacts(
            "p-1",
            "BTCUSDT",
            Side.LONG,
            "open",
            D("0.7"),  # the stop's 0.3 applied
            entry=None,
            orders={"sl": _order("qt-sl-1-0", OrderStatus.FILLED, "0.3", "0.3")},
            applied={"qt-sl-1-0": D("0.3")},
        )
    ]
    (action,) = plan(facts, ExchangeFacts(held=_held("0.7"), open_orders=()), "qt", positions_only=True)
    assert action.kind == "reprotect" and action.purposes == ("sl",)


def test_plan_position_gone_while_running_names_no_downtime() -> None:
    facts = [PositionFacts("p-1", "BTCUSDT", Side.LONG, "open", D("1"), entry=None, orders={})]
    (action,) = plan(facts, ExchangeFacts(held={}, open_orders=()), "qt", positions_only=True, running=True)
    assert action.kind == "close" and "while the service was down" not in action.detail


def test_plan_position_in_a_symbol_not_configured_is_reported_and_left_alone() -> None:
    held = {
        "DOGEUSDT": ExchangePosition(symbol="DOGEUSDT", quantity=D("-500"), entry_price=D("0.1"), unrealized_pnl=D(0)),
        **_held("1"),
    }
    actions = plan([], ExchangeFacts(held=held, open_orders=()), "qt", symbols=("BTCUSDT", "ETHUSDT"))
    assert [(a.kind, a.target) for a in actions] == [("adopt", "BTCUSDT"), ("foreign", "DOGEUSDT")]
    assert "not a configured symbol: left alone" in actions[1].detail


def test_plan_running_cancels_orphans_of_ours_and_keeps_current_orders_of_positions_not_looked_up() -> None:
    current_stop = _order("qt-sl-aaaaaaaaaaaa-0", OrderStatus.NEW, "1")
    orphan_stop = _order("qt-sl-bbbbbbbbbbbb-0", OrderStatus.NEW, "1")
    orphan_entry = _order("qt-e-cccccccccccc-0", OrderStatus.NEW, "1", kind=OrderType.MARKET)
    someone_elses = _order("web-manual-1", OrderStatus.NEW, "1")
    # A position the light reconcile found as it should be: taken from the open orders, not looked up.
    fine = PositionFacts(
        "p-aaaaaaaaaaaa", "BTCUSDT", Side.LONG, "open", D("1"), entry=None, orders={"sl": current_stop}, examined=False
    )
    resting = (current_stop, orphan_stop, orphan_entry, someone_elses)
    actions = plan(
        [fine], ExchangeFacts(held=_held("1"), open_orders=resting), "qt", running=True, symbols=("BTCUSDT",)
    )
    assert [(a.kind, a.target) for a in actions] == [
        ("cancel_orphan", orphan_stop.client_order_id),
        ("cancel_orphan", orphan_entry.client_order_id),
    ]
    assert all("belongs to no live position" in a.detail for a in actions)


def test_plan_running_cancels_the_resting_orders_of_a_position_it_closes() -> None:
    stop, take_profit = (
        _order("qt-sl-aaaaaaaaaaaa-0", OrderStatus.NEW, "1"),
        _order("qt-tp-aaaaaaaaaaaa-0", OrderStatus.NEW, "1"),
    )
    gone = PositionFacts(
        "p-aaaaaaaaaaaa", "BTCUSDT", Side.LONG, "open", D("1"), entry=None, orders={"sl": stop, "tp": take_profit}
    )
    actions = plan([gone], ExchangeFacts(held={}, open_orders=(stop, take_profit)), "qt", running=True, symbols=())
    assert [(a.kind, a.target) for a in actions] == [
        ("close", "p-aaaaaaaaaaaa"),
        ("cancel_orphan", stop.client_order_id),
        ("cancel_orphan", take_profit.client_order_id),
    ]


def test_plan_running_reports_positions_not_ours_and_adopts_none() -> None:
    held = {
        "DOGEUSDT": ExchangePosition(symbol="DOGEUSDT", quantity=D("-500"), entry_price=D("0.1"), unrealized_pnl=D(0)),
        **_held("1"),
    }
    actions = plan([], ExchangeFacts(held=held, open_orders=()), "qt", running=True, symbols=("BTCUSDT",))
    assert [(a.kind, a.target) for a in actions] == [("unowned", "BTCUSDT"), ("foreign", "DOGEUSDT")]
    assert "adopted at the next start" in actions[0].detail
    assert "SHORT 500 DOGEUSDT, not a configured symbol" in actions[1].detail


def test_paper_is_reconciled_when_it_reports_a_change_not_ours_and_never_on_the_timer(tmp_path: Path) -> None:
    from actors.clock import VirtualClock
    from actors.execution.engine import ExecutionEngine
    from actors.messages import Candle, Step
    from config import Settings
    from exchange.paper.exchange import PaperExchange
    from persistence.db import make_engine
    from persistence.migrate import upgrade
    from persistence.store import Store
    from tests.actors.harness import MINUTE, T0

    settings = Settings(symbols=("BTCUSDT",), database={"url": f"sqlite:///{tmp_path / 'trader.db'}"})
    database = make_engine(settings.database.url)
    upgrade(database)
    clock = VirtualClock(T0)
    exchange = PaperExchange.from_settings(settings.exchange.paper)
    engine = ExecutionEngine(settings, clock, exchange, Store(database), checkpoint_steps=False)
    try:
        engine.start()
        started = engine.last_reconcile

        def step(minutes: int) -> None:
            open_time = clock.now_ms()
            clock.advance_to(open_time + minutes * MINUTE)
            candle = Candle(
                symbol="BTCUSDT",
                open_time=open_time,
                open=20_000.0,
                high=20_000.0,
                low=20_000.0,
                close=20_000.0,
                volume=1.0,
            )
            engine.on_market(Step(at=clock.now_ms(), candles=(candle,)))

        for _ in range(5):
            step(30)  # two and a half hours: the timer's minute passed many times over
        assert engine.last_reconcile == started
        exchange.place_order(
            OrderRequest(
                client_order_id="web_by_hand",
                symbol="BTCUSDT",
                side=OrderSide.BUY,
                type=OrderType.MARKET,
                quantity=D("0.01"),
            )
        )
        step(1)  # its fill is someone else's: compared with the exchange at once
        assert engine.last_reconcile == clock.now_ms()
    finally:
        engine.close()
        database.dispose()


def _filled_entry_unapplied() -> list[PositionFacts]:
    entry = _order("qt-e-1-0", OrderStatus.FILLED, "1.0", "1.0", OrderType.MARKET)
    return [PositionFacts("p-1", "BTCUSDT", Side.LONG, "entry_submitted", D("0"), entry=entry, orders={}, applied={})]


def test_plan_at_start_entry_filled_while_down_and_no_longer_held_is_filled_then_closed() -> None:
    facts = _filled_entry_unapplied()
    gone = plan(facts, ExchangeFacts(held={}, open_orders=()), "qt")
    assert [(a.kind, a.target) for a in gone] == [("fill_from_lookup", "p-1"), ("close", "p-1")]
    assert "while the service was down" in gone[1].detail
    held = plan(facts, ExchangeFacts(held=_held("1.0"), open_orders=()), "qt")
    assert [a.kind for a in held] == ["fill_from_lookup"]
    # The per-step lookup does not read the account's positions: it never closes on their absence.
    looked_up = plan(facts, ExchangeFacts(held={}, open_orders=()), "qt", positions_only=True)
    assert [a.kind for a in looked_up] == ["fill_from_lookup"]


def test_an_order_of_ours_registered_late_beside_the_current_stop_is_cancelled_while_running(tmp_path: Path) -> None:
    """Binance may register a request that timed out after it was replaced (or after its position closed): the
    stream's word of it is enough to reconcile at once, which cancels it; the current stop stays."""
    h = Harness(tmp_path, exit_modes=WIDE_STOPS)
    try:
        _open_position(h)
        (stop,) = _stops(h)
        late_id = stop.client_order_id.rsplit("-", 1)[0] + "-7"  # the same position's stop, a later number
        assert stop.trigger_price is not None
        h.system.ctx.exchange.place_order(
            OrderRequest(
                client_order_id=late_id,
                symbol="BTCUSDT",
                side=OrderSide.SELL,
                type=OrderType.STOP_MARKET,
                quantity=stop.quantity,
                trigger_price=stop.trigger_price,
                reduce_only=True,
            )
        )
        assert {o.client_order_id for o in _stops(h)} == {stop.client_order_id, late_id}
        h.step()
        assert [o.client_order_id for o in _stops(h)] == [stop.client_order_id]
        ((status,),) = h.rows("SELECT status FROM orders WHERE client_order_id = :c", c=stop.client_order_id)
        assert status == "NEW"
    finally:
        h.stop()
