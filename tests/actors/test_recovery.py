"""Recovery at start against the (paper) exchange, through the real actors, and the pure plan."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from actors.execution.recovery import ExchangeFacts, PositionFacts, plan
from actors.messages import Side
from exchange.port import ExchangePosition, OrderRequest, OrderSide, OrderState, OrderStatus, OrderType
from tests.actors.harness import WIDE_STOPS, Harness

D = Decimal


def _order(cid: str, status: OrderStatus, filled: str = "0") -> OrderState:
    return OrderState(
        client_order_id=cid,
        exchange_order_id=1,
        symbol="BTCUSDT",
        side=OrderSide.SELL,
        type=OrderType.STOP_MARKET,
        quantity=D("1"),
        trigger_price=D("90"),
        reduce_only=True,
        status=status,
        filled_qty=D(filled),
    )


def _held(qty: str) -> dict[str, ExchangePosition]:
    return {"BTCUSDT": ExchangePosition(symbol="BTCUSDT", quantity=D(qty), entry_price=D("100"), unrealized_pnl=D("0"))}


def test_plan_entry_not_found_is_cancelled_never_resent() -> None:
    facts = [PositionFacts("p-1", "BTCUSDT", Side.LONG, "unknown", D("0"), entry=None)]
    (action,) = plan(facts, ExchangeFacts(held={}, open_orders=()), "qt")
    assert (action.kind, action.target) == ("cancel_entry", "p-1") and "never placed" in action.detail


def test_plan_pending_entry_found_on_exchange_is_confirmed_submitted() -> None:
    facts = [
        PositionFacts("p-1", "BTCUSDT", Side.LONG, "pending_entry", D("0"), entry=_order("qt-e-1-0", OrderStatus.NEW))
    ]
    assert [a.kind for a in plan(facts, ExchangeFacts(held={}, open_orders=()), "qt")] == ["confirm_submitted"]


def test_plan_open_position_gone_from_exchange_is_closed_with_reason() -> None:
    facts = [
        PositionFacts(
            "p-1", "BTCUSDT", Side.LONG, "open", D("1"), entry=None, orders={"sl": _order("qt-sl-1-0", OrderStatus.NEW)}
        )
    ]
    (action,) = plan(facts, ExchangeFacts(held={}, open_orders=()), "qt")
    assert action.kind == "close" and "while the service was down" in action.detail


def test_plan_missing_stop_is_replaced_and_quantity_mismatch_halts() -> None:
    missing = [
        PositionFacts(
            "p-1",
            "BTCUSDT",
            Side.LONG,
            "open",
            D("1"),
            entry=None,
            orders={"sl": None, "tp": _order("qt-tp-1-0", OrderStatus.NEW)},
        )
    ]
    (action,) = plan(missing, ExchangeFacts(held=_held("1"), open_orders=()), "qt")
    assert action.kind == "reprotect" and action.purposes == ("sl",)
    (halt,) = plan(missing, ExchangeFacts(held=_held("-1"), open_orders=()), "qt")
    assert halt.kind == "halt" and "a person must look" in halt.detail


def test_plan_applies_fills_nobody_heard_of_before_comparing_quantities() -> None:
    partial = _order("qt-pt-1-0", OrderStatus.FILLED, filled="0.4")
    facts = [
        PositionFacts(
            "p-1",
            "BTCUSDT",
            Side.LONG,
            "open",
            D("1"),
            entry=None,
            orders={"pt": partial, "sl": _order("qt-sl-1-0", OrderStatus.NEW)},
        )
    ]
    actions = plan(facts, ExchangeFacts(held=_held("0.6"), open_orders=()), "qt")
    assert [(a.kind, a.purposes) for a in actions] == [("apply_fills", ("pt",))]
    # Already applied here (the database has the fill): nothing to do.
    applied = [
        PositionFacts(
            "p-1",
            "BTCUSDT",
            Side.LONG,
            "partially_closed",
            D("0.6"),
            entry=None,
            orders={"pt": partial, "sl": _order("qt-sl-1-0", OrderStatus.NEW)},
            applied={"qt-pt-1-0": D("0.4")},
        )
    ]
    assert [a.kind for a in plan(applied, ExchangeFacts(held=_held("0.6"), open_orders=()), "qt")] == ["confirm"]
    # A stop that filled while down explains a flat exchange: no "closed on the exchange".
    stopped = [
        PositionFacts(
            "p-1",
            "BTCUSDT",
            Side.LONG,
            "open",
            D("1"),
            entry=None,
            orders={"sl": _order("qt-sl-1-0", OrderStatus.FILLED, filled="1")},
        )
    ]
    assert [a.kind for a in plan(stopped, ExchangeFacts(held={}, open_orders=()), "qt")] == ["apply_fills"]


def test_plan_exit_that_never_reached_the_exchange_is_undone() -> None:
    facts = [
        PositionFacts(
            "p-1",
            "BTCUSDT",
            Side.LONG,
            "closing",
            D("1"),
            entry=None,
            orders={"x": None, "sl": _order("qt-sl-1-0", OrderStatus.NEW)},
        )
    ]
    (action,) = plan(facts, ExchangeFacts(held=_held("1"), open_orders=()), "qt")
    assert action.kind == "exit_failed"


def test_plan_cancels_a_replaced_order_of_a_live_position() -> None:
    current, replaced = _order("qt-sl-abcdefabcdef-1", OrderStatus.NEW), _order("qt-sl-abcdefabcdef-0", OrderStatus.NEW)
    facts = [PositionFacts("p-abcdefabcdef", "BTCUSDT", Side.LONG, "open", D("1"), entry=None, orders={"sl": current})]
    actions = plan(facts, ExchangeFacts(held=_held("1"), open_orders=(replaced, current)), "qt")
    assert [(a.kind, a.target) for a in actions] == [
        ("confirm", "p-abcdefabcdef"),
        ("cancel_orphan", replaced.client_order_id),
    ]
    assert "was replaced" in actions[1].detail


def test_plan_adopts_unknown_exchange_position_and_cancels_orphans_of_ours_only() -> None:
    orphan = _order("qt-sl-abcdefabcdef-0", OrderStatus.NEW)
    foreign = _order("manual-7", OrderStatus.NEW)
    actions = plan([], ExchangeFacts(held=_held("2"), open_orders=(orphan, foreign)), "qt")
    assert [(a.kind, a.target) for a in actions] == [("adopt", "BTCUSDT"), ("cancel_orphan", "qt-sl-abcdefabcdef-0")]


def test_plan_never_adopts_a_position_whose_orders_carry_another_instances_prefix() -> None:
    theirs = _order("qt7f3a91-sl-abcdefabcdef-0", OrderStatus.NEW)  # the same codec, another database's salt
    actions = plan([], ExchangeFacts(held=_held("2"), open_orders=(theirs,)), "qt02be4c")
    assert [(a.kind, a.target) for a in actions] == [("foreign", "BTCUSDT")]  # its stop is not cancelled either
    assert "orders of another instance (qt7f3a91): left alone" in actions[0].detail


def _open_position(h: Harness) -> None:
    h.calm(160)
    h.signal("BTCUSDT", "LONG", 0.8)
    h.until(lambda: bool(h.positions()) and h.positions()[0][1] == "open", limit=3)


def test_stop_that_filled_while_down_closes_the_position_as_stop_loss(tmp_path: Path) -> None:
    h = Harness(tmp_path, exit_modes=WIDE_STOPS)
    try:
        _open_position(h)
        h.while_down(lambda exchange: exchange.on_candle(h.candle("BTCUSDT", -0.06)))
        assert h.positions()[0][1:] == ("closed", "stop-loss")
        assert h.rows("SELECT count(*) FROM orders WHERE status = 'PENDING'")[0][0] == 0
    finally:
        h.stop()


def test_position_closed_by_hand_while_down_is_reconciled_closed(tmp_path: Path) -> None:
    h = Harness(tmp_path, exit_modes=WIDE_STOPS)
    try:
        _open_position(h)
        quantity = Decimal(str(h.rows("SELECT filled_quantity FROM positions")[0][0]))

        def close_by_hand(exchange) -> None:  # type: ignore[no-untyped-def]
            exchange.place_order(
                OrderRequest(
                    client_order_id="web-manual-1",
                    symbol="BTCUSDT",
                    side=OrderSide.SELL,
                    type=OrderType.MARKET,
                    quantity=quantity,
                    reduce_only=True,
                )
            )
            exchange.on_candle(h.candle("BTCUSDT", 0.0))

        h.while_down(close_by_hand)
        assert h.positions()[0][1:] == ("closed", "closed on the exchange")
        reasons = h.rows("SELECT trigger, reason FROM transitions WHERE machine = 'position' ORDER BY id DESC LIMIT 1")
        assert reasons == [("reconcile", "position closed on the exchange while the service was down")]
    finally:
        h.stop()


def test_position_found_on_exchange_without_record_is_adopted_and_protected(tmp_path: Path) -> None:
    h = Harness(tmp_path, symbols=("BTCUSDT", "ETHUSDT"))
    try:
        h.calm(20)

        def trade_by_hand(exchange) -> None:  # type: ignore[no-untyped-def]
            exchange.place_order(
                OrderRequest(
                    client_order_id="web-manual-2",
                    symbol="ETHUSDT",
                    side=OrderSide.BUY,
                    type=OrderType.MARKET,
                    quantity=D("0.5"),
                )
            )
            exchange.on_candle(h.candle("ETHUSDT", 0.0))

        h.while_down(trade_by_hand)
        rows = h.rows("SELECT symbol, side, state, quantity FROM positions")
        assert rows == [("ETHUSDT", "LONG", "open", "0.5")]
        triggers = h.rows("SELECT trigger FROM transitions WHERE machine = 'position' ORDER BY id")
        assert [t[0] for t in triggers] == ["create", "adopt"]
        purposes = {r[0] for r in h.rows("SELECT purpose FROM orders WHERE status = 'NEW'")}
        assert {"sl", "tp"} <= purposes
    finally:
        h.stop()


def test_recover_dry_run_prints_the_plan_and_changes_nothing(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    h = Harness(tmp_path, symbols=("BTCUSDT", "ETHUSDT"), exit_modes=WIDE_STOPS)
    try:
        _open_position(h)

        def meanwhile(exchange) -> None:  # type: ignore[no-untyped-def]
            exchange.place_order(
                OrderRequest(
                    client_order_id="web-manual-3",
                    symbol="ETHUSDT",
                    side=OrderSide.BUY,
                    type=OrderType.MARKET,
                    quantity=D("0.5"),
                )
            )
            exchange.on_candle(h.candle("ETHUSDT", 0.0))
            for order in exchange.open_orders("BTCUSDT"):  # someone cancelled our protective orders by hand
                exchange.cancel_order("BTCUSDT", order.client_order_id)

        h.while_down(lambda exchange: None)
        h.system.stop("down for the dry run")
        from actors.system import PAPER_STATE
        from exchange.paper.exchange import PaperExchange
        from persistence import records

        with h.engine.begin() as connection:
            exchange = PaperExchange.from_state(records.load_exchange_state(connection, PAPER_STATE))
            meanwhile(exchange)
            records.save_exchange_state(connection, PAPER_STATE, exchange.to_state(), h.clock.now_ms())
        before = h.rows("SELECT count(*) FROM transitions")[0][0], h.rows("SELECT state FROM exchange_state")
        db = h.settings.database.url.removeprefix("sqlite:///")
        result = CliRunner().invoke(app, ["recover", "--dry-run", "--db", db], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "1 live position(s)" in result.stdout
        assert "reprotect" in result.stdout and "sl, tp" in result.stdout
        assert "adopt" in result.stdout and "ETHUSDT" in result.stdout
        assert (h.rows("SELECT count(*) FROM transitions")[0][0], h.rows("SELECT state FROM exchange_state")) == before
        applied = CliRunner().invoke(app, ["recover", "--db", db], env={"COLUMNS": "200"})
        assert applied.exit_code == 0, applied.output
        assert {r[0] for r in h.rows("SELECT symbol FROM positions WHERE state = 'open'")} == {"BTCUSDT", "ETHUSDT"}
    finally:
        h.system = h._start()
        h.stop()
