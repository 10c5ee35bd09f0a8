"""The protection invariant while running, against an exchange that behaves as Binance does: the real actors on
virtual time (tests/actors/harness.py), the real python-binance client against the fake server."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.exits.strategies import ExitPlan, plan_exits
from actors.messages import Side
from config import ExitMode
from persistence.position_details import PositionDetails
from scripts.fake_binance.server import FakeBinance
from tests.actors.harness import Harness

SYMBOL = "BTCUSDT"


def _held(fake: FakeBinance) -> Decimal:
    with fake.engine.lock:
        return abs(fake.engine.positions.get(SYMBOL, (Decimal(0), Decimal(0)))[0])


def _resting_stops(fake: FakeBinance) -> list[Decimal]:
    with fake.engine.lock:
        return [
            a.quantity
            for a in fake.engine.algos_by_cid.values()
            if a.status == "NEW" and a.order_type == "STOP_MARKET" and a.symbol == SYMBOL
        ]


def _open(h: Harness) -> None:
    h.signal(SYMBOL, "LONG", 0.9)
    h.until(lambda: any(p[1] == "open" for p in h.positions()), limit=10)


def _entry_sent_in_two_trades(h: Harness, fake: FakeBinance) -> ExitPlan:
    """A long entry sent, which the fake has executed in two trades at 20000 that the service has not heard of yet;
    the exits the first trade will be planned with."""
    fake.faults.fill_in_trades(("0.3", "0.7"))
    h.signal(SYMBOL, "LONG", 0.9)
    h.until(lambda: [p[1] for p in h.positions()] == ["entry_submitted"], limit=10)
    ((mode, raw),) = h.rows("SELECT exit_mode, details FROM positions")
    settings, port = h.system.ctx.settings, h.system.ctx.exchange
    return plan_exits(
        settings.exit_modes[ExitMode(mode)],
        Side.LONG,
        Decimal("20000"),
        _held(fake),
        port.symbol_filters(SYMBOL),
        PositionDetails.from_json(raw).stop_distance,
    )


def test_entry_filled_in_two_trades_gets_one_stop_covering_the_whole_position(
    trading: Harness, fake_binance: FakeBinance
) -> None:
    fake_binance.faults.fill_in_trades(("0.3", "0.7"))
    _open(trading)
    trading.until(lambda: _resting_stops(fake_binance) == [_held(fake_binance)], limit=5)
    ((filled,),) = trading.rows("SELECT filled_quantity FROM positions")
    assert Decimal(filled) == _held(fake_binance) > 0
    assert _resting_stops(fake_binance) == [_held(fake_binance)]  # the first trade's small stop was replaced


def test_liquidation_while_running_closes_the_position_with_the_reason(
    trading: Harness, fake_binance: FakeBinance
) -> None:
    _open(trading)
    fake_binance.faults.liquidate(SYMBOL)
    trading.until(lambda: [p[1] for p in trading.positions()] == ["closed"], limit=3)
    ((reason,),) = trading.rows("SELECT reason FROM transitions WHERE trigger = 'reconcile'")
    assert "by the exchange or by hand" in reason
    assert _resting_stops(fake_binance) == []


def test_stop_whose_request_was_lost_is_placed_again_at_once_under_a_new_id(
    trading: Harness, fake_binance: FakeBinance
) -> None:
    fake_binance.faults.timeout_next(path="/fapi/v1/algoOrder", execute=False, hold_s=2.5)  # the first stop is lost
    _open(trading)
    trading.until(lambda: _resting_stops(fake_binance) == [_held(fake_binance)], limit=5)
    with fake_binance.engine.lock:
        ids = sorted(
            a.client_algo_id for a in fake_binance.engine.algos_by_cid.values() if a.order_type == "STOP_MARKET"
        )
    assert len(ids) == 1 and ids[0].endswith("-1")  # its number 1: number 0 never reached the exchange
    assert [p[1] for p in trading.positions()] == ["open"]  # protected again, not closed at market
    assert fake_binance.duplicate_client_order_ids() == {}


def test_stop_placed_again_after_a_tick_size_change_is_on_the_new_tick(
    trading: Harness, fake_binance: FakeBinance
) -> None:
    _open(trading)
    trading.until(lambda: _resting_stops(fake_binance) == [_held(fake_binance)], limit=5)
    with fake_binance.engine.lock:
        (first,) = [a for a in fake_binance.engine.algos_by_cid.values() if a.order_type == "STOP_MARKET"]
    tick = Decimal("10")
    assert first.trigger_price % tick != 0  # on the old tick, off the new one
    fake_binance.faults.change_filters(SYMBOL, tick_size=tick)
    trading.system.ctx.exchange.cancel_order(SYMBOL, first.client_algo_id)  # a person cancels it: placed again

    def stop_on_the_new_tick() -> bool:
        with fake_binance.engine.lock:
            stops = [a for a in fake_binance.engine.algos_by_cid.values() if a.order_type == "STOP_MARKET"]
        resting = [a for a in stops if a.status == "NEW"]
        return len(resting) == 1 and resting[0].trigger_price % tick == 0 and resting[0].quantity == _held(fake_binance)

    trading.until(stop_on_the_new_tick, limit=5)
    assert [p[1] for p in trading.positions()] == ["open"]  # protected again, not closed at market
    ((stop,),) = trading.rows("SELECT stop_price FROM positions")
    assert Decimal(stop) % tick == 0 and Decimal(stop) > first.trigger_price  # a long's stop loses less, not more


@pytest.mark.parametrize("how", ["close_by_hand", "auto_deleverage"])
def test_part_closed_on_the_exchange_while_running_shrinks_the_position_and_keeps_trading(
    trading: Harness, fake_binance: FakeBinance, how: str
) -> None:
    _open(trading)
    before = _held(fake_binance)
    part = (before / 2).quantize(Decimal("0.001"))
    getattr(fake_binance.faults, how)(SYMBOL, quantity=str(part))
    trading.until(lambda: trading.rows("SELECT reason FROM transitions WHERE trigger = 'reduce'") != [], limit=3)
    ((reason,),) = trading.rows("SELECT reason FROM transitions WHERE trigger = 'reduce'")
    assert f"{part} of {before} {SYMBOL} closed on the exchange by the exchange or by hand" in reason
    assert [p[1] for p in trading.positions()] == ["open"]  # smaller, still ours, still protected
    assert _resting_stops(fake_binance) and min(_resting_stops(fake_binance)) >= _held(fake_binance) == before - part
    assert trading.gate()[0] == "open"  # nothing for a person to look at


def test_part_closed_on_the_exchange_counts_only_when_a_second_look_finds_it_still_so(
    trading: Harness, fake_binance: FakeBinance
) -> None:
    """What the exchange holds can be ahead of what it has told (a fill of ours still on the stream): the first
    reconcile that finds less held records nothing; the next step's, finding the same, records the reduction."""
    _open(trading)
    before = _held(fake_binance)
    part = (before / 2).quantize(Decimal("0.001"))
    fake_binance.faults.close_by_hand(SYMBOL, quantity=str(part))
    trading.step()  # a reconcile every step (one virtual minute): this one looks first
    assert trading.rows("SELECT reason FROM transitions WHERE trigger = 'reduce'") == []
    trading.step()
    ((reason,),) = trading.rows("SELECT reason FROM transitions WHERE trigger = 'reduce'")
    assert f"{part} of {before} {SYMBOL} closed on the exchange" in reason
    ((filled, raw),) = trading.rows("SELECT filled_quantity, details FROM positions")
    assert PositionDetails.from_json(raw).open_quantity(Decimal(filled)) == _held(fake_binance) == before - part


def test_user_stream_away_pauses_the_gate_and_it_reopens_when_the_stream_is_back(
    trading: Harness, fake_binance: FakeBinance
) -> None:
    assert trading.gate()[0] == "open"
    fake_binance.faults.block_user_streams()
    trading.until(lambda: trading.gate()[0] == "paused", limit=20)
    assert "user-data stream" in trading.gate()[1]
    fake_binance.faults.unblock_user_streams()
    trading.until(lambda: trading.gate()[0] == "open", limit=50)
    assert trading.gate_triggers()[-2:] == ["pause", "clear"]


def test_entry_in_two_trades_past_its_partial_target_takes_the_partial_at_market_once(
    trading: Harness, fake_binance: FakeBinance
) -> None:
    """The first trade opens the position; the price is past its partial target, so that part is taken at market.
    The second trade resizes the stop and the target to the whole, but the partial was taken: not a second time."""
    plan = _entry_sent_in_two_trades(trading, fake_binance)
    # The service hears of the trades at its next step. Meanwhile the price rises between the partial's target and
    # the take-profit's.
    assert plan.partial_price is not None, plan
    fake_binance.set_price(SYMBOL, (plan.partial_price + plan.take_profit_price) / 2)

    trading.until(lambda: [p[1] for p in trading.positions()] == ["partially_closed"], limit=5)
    trading.calm(3)  # light reconciles compare the book with the exchange
    partials = trading.rows("SELECT type, quantity, status FROM orders WHERE purpose = 'pt'")
    taken = [Decimal(str(quantity)) for kind, quantity, _ in partials if kind == "MARKET"]
    assert len(taken) == 1, partials  # the first trade's partial target refused (-2021), then taken at market
    assert [status for kind, _, status in partials if kind != "MARKET"] == ["REJECTED"], partials
    ((filled,),) = trading.rows("SELECT filled_quantity FROM positions")
    assert _held(fake_binance) == Decimal(filled) - taken[0] > 0
    assert _resting_stops(fake_binance) == [_held(fake_binance)]
    assert trading.gate()[0] == "open", trading.gate()
    assert [p[1] for p in trading.positions()] == ["partially_closed"]


def test_entry_in_two_trades_past_its_target_is_closed_whole(trading: Harness, fake_binance: FakeBinance) -> None:
    """The first trade opens the position with the price already past its take-profit: it is closed at market.
    The second trade of the entry is part of the position too: it is closed with it, nothing is left held."""
    plan = _entry_sent_in_two_trades(trading, fake_binance)
    fake_binance.set_price(SYMBOL, plan.take_profit_price + 50)

    trading.until(lambda: [p[1] for p in trading.positions()] == ["closed"], limit=5)
    trading.calm(3)
    assert _held(fake_binance) == 0
    assert _resting_stops(fake_binance) == []
    assert trading.gate()[0] == "open", trading.gate()
