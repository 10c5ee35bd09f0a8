"""Recovery at start against Binance (the fake server): fills that happened while the service was down.

The real actors run on virtual time with hand-made candles (tests/actors/harness.py); orders go through
the real python-binance client to the fake server, whose price the test moves while nobody listens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from exchange.binance.account import BinanceExchange
from scripts.fake_binance.fixtures import TEST_KEY, TEST_SECRET
from scripts.fake_binance.server import FakeBinance
from tests.actors.harness import WIDE_STOPS, Harness

D = Decimal
SYMBOL = "BTCUSDT"


def _port(fake: FakeBinance) -> Callable[[], BinanceExchange]:
    def make() -> BinanceExchange:
        return BinanceExchange(
            api_key=TEST_KEY,
            api_secret=TEST_SECRET,
            base_url=fake.base_url,
            symbols=(SYMBOL,),
            leverage=5,
            timeout_s=2.0,
            reconnect_delay_s=0.05,
        ).start()

    return make


@pytest.fixture
def trading(tmp_path: Path, fake_binance: FakeBinance) -> Iterator[Harness]:
    fake_binance.set_price(SYMBOL, "20000")
    # Wide stops: the harness's calm candles never reach the exits on their own.
    h = Harness(tmp_path, exchange=_port(fake_binance), exit_modes=WIDE_STOPS)
    try:
        yield h
    finally:
        h.stop()


def _open(h: Harness) -> dict[str, tuple[str, Decimal, Decimal]]:
    """Open a long; its resting orders by purpose: (client order id, trigger, quantity)."""
    h.calm(160)
    h.signal(SYMBOL, "LONG", 0.8)
    h.until(lambda: any(p[1] == "open" for p in h.positions()), limit=10)
    h.until(lambda: len(h.rows("SELECT 1 FROM orders WHERE status = 'NEW'")) >= 2, limit=5)
    rows = h.rows("SELECT purpose, client_order_id, trigger_price, quantity FROM orders WHERE status = 'NEW'")
    return {purpose: (cid, D(str(trigger)), D(str(qty))) for purpose, cid, trigger, qty in rows}


def _down(h: Harness, fake: FakeBinance, price: Decimal | None = None, *, cancelled: tuple[str, ...] = ()) -> None:
    """Stop the service; someone cancels `cancelled` by hand and the price reaches `price` while nobody listens;
    start again (recovery runs)."""
    h.system.stop("down for the test")
    if cancelled:
        probe = _port(fake)()
        for cid in cancelled:
            probe.cancel_order(SYMBOL, cid)
        probe.close()
    if price is not None:
        fake.set_price(SYMBOL, price)
    h.system = h._start()


def test_partial_take_profit_filled_while_down_is_applied_at_start(trading: Harness, fake_binance: FakeBinance) -> None:
    h = trading
    resting = _open(h)
    assert "pt" in resting, f"the test needs a partial take-profit: {resting}"
    pt_id, pt_price, pt_qty = resting["pt"]
    filled = D(str(h.rows("SELECT filled_quantity FROM positions")[0][0]))

    _down(h, fake_binance, pt_price)

    state, closed_reason = h.rows("SELECT state, close_reason FROM positions")[0]
    assert (state, closed_reason) == ("partially_closed", None)
    trigger, reason = h.rows(
        "SELECT trigger, reason FROM transitions WHERE machine = 'position' ORDER BY id DESC LIMIT 1"
    )[0]
    assert trigger == "partial_take_profit" and str(pt_qty.normalize()) in reason
    # The fill is the exchange's own trade: its id, fee and PnL, once.
    fills = h.rows(
        "SELECT f.trade_id, f.quantity, f.fee, f.realized_pnl FROM fills f JOIN orders o ON o.id = f.order_id "
        "WHERE o.client_order_id = :cid",
        cid=pt_id,
    )
    assert len(fills) == 1 and D(str(fills[0][1])) == pt_qty and D(str(fills[0][2])) > 0 and D(str(fills[0][3])) > 0
    assert not fills[0][0].endswith(":0")
    (held,) = [p for p in h.system.ctx.exchange.positions() if p.symbol == SYMBOL]
    assert held.quantity == filled - pt_qty
    assert h.gate()[0] != "halted"
    # The order rows say what the exchange says, and trading goes on: a later step changes nothing.
    assert h.rows("SELECT status FROM orders WHERE client_order_id = :cid", cid=pt_id) == [("FILLED",)]
    h.calm(2)
    assert h.rows("SELECT count(*) FROM fills")[0][0] == 2


def test_stop_filled_while_down_closes_as_stop_loss_with_the_exchange_figures(
    trading: Harness, fake_binance: FakeBinance
) -> None:
    h = trading
    resting = _open(h)
    _, stop_price, _ = resting["sl"]

    _down(h, fake_binance, stop_price - D(10))

    state, reason, pnl = h.rows("SELECT state, close_reason, realized_pnl FROM positions")[0]
    assert (state, reason) == ("closed", "stop-loss") and D(str(pnl)) < 0
    assert h.system.ctx.exchange.positions() == ()
    assert h.system.ctx.exchange.open_orders(SYMBOL) == ()
    assert h.gate()[0] != "halted"


def test_missing_partial_take_profit_is_placed_again_with_its_quantity(
    trading: Harness, fake_binance: FakeBinance
) -> None:
    h = trading
    resting = _open(h)
    pt_id, pt_price, pt_qty = resting["pt"]
    _down(h, fake_binance, cancelled=(pt_id,))

    again = h.rows(
        "SELECT client_order_id, trigger_price, quantity, status FROM orders WHERE purpose = 'pt' ORDER BY id"
    )
    # Cancelled by someone else: to this port (not the one that placed it) the exchange says it went away.
    assert [(row[0], row[3]) for row in again] == [(pt_id, "EXPIRED"), (pt_id[:-1] + "1", "NEW")]
    assert (D(str(again[1][1])), D(str(again[1][2]))) == (pt_price, pt_qty)


def test_take_profit_passed_while_unprotected_is_taken_at_start(trading: Harness, fake_binance: FakeBinance) -> None:
    h = trading
    resting = _open(h)
    tp_id, tp_price, _ = resting["tp"]
    pt_id = resting["pt"][0]
    _down(h, fake_binance, tp_price + D(50), cancelled=(tp_id, pt_id))  # the price runs past both targets

    # Placed again, both would trigger at once: the exchange refuses (-2021), so the service takes the profit now.
    h.until(lambda: h.positions()[0][1] == "closed", limit=5)
    assert h.positions()[0][2] == "take-profit already crossed"
    assert h.system.ctx.exchange.positions() == ()
    assert h.rows("SELECT reject_code FROM orders WHERE client_order_id = :cid", cid=tp_id[:-1] + "1") == [(-2021,)]
    assert h.gate()[0] != "halted"


def test_partial_take_profit_passed_while_missing_is_taken_at_market(
    trading: Harness, fake_binance: FakeBinance
) -> None:
    h = trading
    resting = _open(h)
    pt_id, pt_price, pt_qty = resting["pt"]
    tp_price = resting["tp"][1]
    _down(
        h, fake_binance, (pt_price + tp_price) / 2, cancelled=(pt_id,)
    )  # past the partial's price, short of the target

    h.until(lambda: h.positions()[0][1] == "partially_closed", limit=5)
    ((kind, quantity),) = h.rows("SELECT type, quantity FROM orders WHERE client_order_id = :cid", cid=pt_id[:-1] + "2")
    assert (kind, D(str(quantity))) == ("MARKET", pt_qty)
    assert {o.type.value for o in h.system.ctx.exchange.open_orders(SYMBOL)} == {"STOP_MARKET", "TAKE_PROFIT_MARKET"}
