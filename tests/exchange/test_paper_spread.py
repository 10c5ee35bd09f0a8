"""The paper market's configured spread: a taker crosses half of it before slipping, per symbol, and it is the
market's (from the settings at every start), not part of the saved account."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from pydantic import ValidationError

from config import Settings
from config.sections import PaperSettings
from exchange.factory import make_exchange
from exchange.market import Candle
from exchange.paper.exchange import PaperExchange
from exchange.port import Fill, OrderRequest, OrderSide, OrderType
from persistence import records
from persistence.db import make_engine
from persistence.migrate import upgrade

MINUTE = 60_000


def flat(minute: int, price: float, symbol: str = "BTCUSDT") -> Candle:
    return Candle(symbol=symbol, open_time=minute * MINUTE, open=price, high=price, low=price, close=price, volume=1)


def market_fill(ex: PaperExchange, side: OrderSide, price: float, symbol: str = "BTCUSDT", qty: str = "0.010") -> D:
    """The price a market order on `side` fills at when the next candle opens at `price`."""
    ex.on_candle(flat(0, price, symbol))
    ex.place_order(OrderRequest(client_order_id="m1", symbol=symbol, side=side, type=OrderType.MARKET, quantity=D(qty)))
    ex.on_candle(flat(1, price, symbol))
    (fill,) = [e for e in ex.drain_events() if isinstance(e, Fill)]
    return fill.price


def paper(spread: str = "0", slippage: str = "2", **per_symbol: str) -> PaperExchange:
    return PaperExchange(
        starting_balance=D("10000"),
        fee_rate=D("0.0004"),
        slippage_bps=D(slippage),
        spread_bps=D(spread),
        symbol_spread_bps={symbol: D(bps) for symbol, bps in per_symbol.items()},
    )


def test_paper_spread_a_taker_pays_half_the_spread_then_the_slippage() -> None:
    # 50000 x (1 + 4/2 bps + 2 bps) = 50020.0 for a buyer, 49980.0 for a seller.
    assert market_fill(paper(spread="4"), OrderSide.BUY, 50_000.0) == D("50020.0")
    assert market_fill(paper(spread="4"), OrderSide.SELL, 50_000.0) == D("49980.0")


def test_paper_spread_zero_fills_exactly_as_slippage_alone() -> None:
    without = PaperExchange(starting_balance=D("10000"), fee_rate=D("0.0004"), slippage_bps=D("2"))
    assert market_fill(paper(spread="0"), OrderSide.BUY, 50_100.0) == market_fill(without, OrderSide.BUY, 50_100.0)
    assert market_fill(paper(spread="0"), OrderSide.BUY, 50_100.0) == D("50110.1")


def test_paper_spread_per_symbol_over_the_default_and_quoted_as_configured() -> None:
    ex = paper(spread="1", slippage="0", XRPUSDT="30")
    assert (ex.configured_spread_bps("BTCUSDT"), ex.configured_spread_bps("XRPUSDT")) == (1.0, 30.0)
    assert market_fill(ex, OrderSide.BUY, 0.8, symbol="XRPUSDT", qty="10") == D("0.8012")  # 0.8 x 1.0015


def test_paper_spread_negative_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        paper(spread="-1")


def test_paper_spread_is_the_markets_not_saved_with_the_account() -> None:
    ex = paper(spread="4")
    market_fill(ex, OrderSide.BUY, 50_000.0)
    state = ex.to_state()
    assert "spread" not in str(sorted(state))
    restored = PaperExchange.from_state(state, spread_bps=D("10"))
    assert restored.configured_spread_bps("BTCUSDT") == 10.0
    assert PaperExchange.from_state(state).configured_spread_bps("BTCUSDT") == 0.0


def test_paper_settings_spread_for_a_symbol_and_bounds() -> None:
    settings = PaperSettings(spread_bps=D("1.5"), symbol_spread_bps={"XRPUSDT": D("8")})
    assert (settings.spread_for("BTCUSDT"), settings.spread_for("XRPUSDT")) == (D("1.5"), D("8"))
    with pytest.raises(ValidationError):
        PaperSettings(symbol_spread_bps={"XRPUSDT": D("-1")})
    with pytest.raises(ValidationError):
        PaperSettings(spread_bps=D("501"))


def test_make_exchange_restored_paper_account_takes_the_spread_from_the_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'qt.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        records.save_exchange_state(connection, records.PAPER_EXCHANGE_STATE, paper(spread="4").to_state(), 1)
    settings = Settings(exchange={"paper": {"spread_bps": "6", "symbol_spread_bps": {"ETHUSDT": "9"}}})
    exchange = make_exchange(settings, engine)
    assert (exchange.configured_spread_bps("BTCUSDT"), exchange.configured_spread_bps("ETHUSDT")) == (6.0, 9.0)
    engine.dispose()
