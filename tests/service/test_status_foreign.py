"""`status` lists the positions on the exchange that are not ours (held in a symbol outside `symbols`), from the
database: recovery at start and the light reconcile while running keep them there, and clear them once gone.
Through the real command line, on the paper exchange and on the fake Binance server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from exchange.binance.account import BinanceExchange
from exchange.paper.exchange import PaperExchange
from exchange.port import OrderRequest, OrderSide, OrderType
from scripts.fake_binance.fixtures import TEST_KEY, TEST_SECRET, needs_shared_data
from scripts.fake_binance.server import FakeBinance
from service.cli import app
from tests.actors.harness import Harness

D = Decimal


def status(h: Harness, *, as_json: bool = True) -> Any:
    db = h.settings.database.url.removeprefix("sqlite:///")
    result = CliRunner().invoke(app, ["status", "--db", db, *(["--json"] if as_json else [])], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if as_json else result.stdout


def market(cid: str, symbol: str, side: OrderSide, quantity: str, *, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        type=OrderType.MARKET,
        quantity=D(quantity),
        reduce_only=reduce_only,
    )


def test_status_lists_a_position_held_outside_the_symbols_after_a_start_and_drops_it_once_closed(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path)  # trades BTCUSDT only
    try:
        h.calm(3)
        assert status(h)["foreign_positions"] == []

        def open_by_hand(exchange: PaperExchange) -> None:
            exchange.place_order(market("web-manual-1", "ETHUSDT", OrderSide.SELL, "0.5"))
            exchange.on_candle(h.candle("ETHUSDT", 0.0))

        h.prices["ETHUSDT"] = 1_500.0
        h.while_down(open_by_hand)
        (foreign,) = status(h)["foreign_positions"]
        assert (foreign["symbol"], foreign["side"], foreign["quantity"]) == ("ETHUSDT", "SHORT", "0.5")
        assert foreign["last_seen"] == foreign["first_seen"] and foreign["last_seen"].startswith("20")
        assert h.rows("SELECT count(*) FROM positions")[0][0] == 0  # reported, not adopted
        text = status(h, as_json=False)
        assert "1 position(s) on the exchange that are not ours" in text and "ETHUSDT" in text and "SHORT" in text

        def close_by_hand(exchange: PaperExchange) -> None:
            exchange.place_order(market("web-manual-2", "ETHUSDT", OrderSide.BUY, "0.5", reduce_only=True))
            exchange.on_candle(h.candle("ETHUSDT", 0.0))

        h.while_down(close_by_hand)
        assert status(h)["foreign_positions"] == []
        assert "not ours" not in status(h, as_json=False)
    finally:
        h.stop()


ETH = "ETHUSDT"


@pytest.fixture
def trading(tmp_path: Path, fake_binance: FakeBinance) -> Iterator[Harness]:
    fake_binance.set_price("BTCUSDT", "20000")
    fake_binance.set_price(ETH, "1500")

    def port() -> BinanceExchange:
        return BinanceExchange(
            api_key=TEST_KEY,
            api_secret=TEST_SECRET,
            base_url=fake_binance.base_url,
            symbols=("BTCUSDT",),
            timeout_s=2.0,
            reconnect_delay_s=0.05,
        ).start()

    h = Harness(tmp_path, exchange=port)
    try:
        h.calm(2)
        yield h
    finally:
        h.stop()


@needs_shared_data
def test_status_lists_a_position_opened_by_hand_while_running_and_drops_it_when_closed(
    trading: Harness, fake_binance: FakeBinance
) -> None:
    assert status(trading)["foreign_positions"] == []
    by_hand = BinanceExchange(
        api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=fake_binance.base_url, user_stream=False
    ).start()
    try:
        by_hand.place_order(market("web_by_hand_1", ETH, OrderSide.BUY, "0.2"))
    finally:
        by_hand.close()
    trading.until(lambda: bool(status(trading)["foreign_positions"]), limit=3)  # within a minute: a step is one
    (foreign,) = status(trading)["foreign_positions"]
    assert (foreign["symbol"], foreign["side"], foreign["quantity"]) == (ETH, "LONG", "0.2")
    seen = foreign["last_seen"]
    trading.step()
    trading.step()
    assert status(trading)["foreign_positions"][0]["last_seen"] > seen  # seen again by each reconcile
    assert status(trading)["foreign_positions"][0]["first_seen"] == foreign["first_seen"]
    assert [p[0] for p in trading.positions()] == []  # left alone
    fake_binance.faults.close_by_hand(ETH)
    trading.until(lambda: status(trading)["foreign_positions"] == [], limit=3)
