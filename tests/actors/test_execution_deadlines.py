"""Execution's deadlines run on the clock (real SQLite file, paper exchange): a step of history (a restart's
catch-up, candles hours behind the clock) does not hold off the lookup of an entry whose fill was never heard."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from actors.clock import VirtualClock
from actors.execution.engine import ExecutionEngine
from actors.messages import Candle, OrderIntent, Side, Signal, Step, position_id_for
from config import ExitMode, Settings
from exchange.paper.exchange import PaperExchange
from exchange.port import ExchangeEvent, OrderRequest, OrderState
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import Store
from tests.actors.harness import MINUTE, T0

PRICE = 20_000.0


class SilentExchange(PaperExchange):
    """The paper exchange whose events are lost while `muted`, as a silent user-data stream loses them; it notes the
    client ids of the orders placed."""

    muted: bool
    placed: list[str]

    def drain_events(self) -> tuple[ExchangeEvent, ...]:
        events = super().drain_events()
        return () if self.muted else events

    def place_order(self, request: OrderRequest) -> OrderState:
        self.placed.append(request.client_order_id)
        return super().place_order(request)


class Bench:
    def __init__(self, tmp_path: Path) -> None:
        self.settings = Settings.model_validate(
            {"symbols": ("BTCUSDT",), "database": {"url": f"sqlite:///{tmp_path / 'trader.db'}"}}
        )
        self.database = make_engine(self.settings.database.url)
        upgrade(self.database)
        self.clock = VirtualClock(T0)
        exchange = SilentExchange.from_settings(self.settings.exchange.paper)
        assert isinstance(exchange, SilentExchange)
        exchange.muted, exchange.placed = False, []
        self.exchange = exchange
        self.engine = ExecutionEngine(self.settings, self.clock, exchange, Store(self.database), checkpoint_steps=False)
        self.engine.start()

    def market(self, *, behind_ms: int = 0) -> int:
        """A step of one candle, `behind_ms` behind the clock (history); the step's time."""
        self.clock.advance_to(self.clock.now_ms() + MINUTE)
        open_time = self.clock.now_ms() - MINUTE - behind_ms
        candle = Candle(
            symbol="BTCUSDT", open_time=open_time, open=PRICE, high=PRICE, low=PRICE, close=PRICE, volume=1.0
        )
        self.engine.on_market(Step(at=open_time + MINUTE, candles=(candle,)))
        return open_time + MINUTE

    def intent(self) -> OrderIntent:
        signal = Signal(id="s-btc", at=self.clock.now_ms(), symbol="BTCUSDT", side=Side.LONG, confidence=0.9)
        price = Decimal(str(PRICE))
        return OrderIntent(
            position_id=position_id_for(signal.id),
            signal=signal,
            quantity=Decimal("0.01"),
            reference_price=price,
            stop_distance=price / 50,
            exit_mode=ExitMode.FAST_TP,
            risk_pct=0.5,
        )

    def state(self, position_id: str) -> str | None:
        with self.database.connect() as connection:
            row = connection.execute(text("SELECT state FROM positions WHERE id = :id"), {"id": position_id}).first()
        return None if row is None else str(row[0])


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    made = Bench(tmp_path)
    yield made
    made.engine.store.close()
    made.database.dispose()


def test_entry_fill_not_heard_is_looked_up_on_the_clock_even_in_steps_of_history(bench: Bench) -> None:
    intent = bench.intent()
    at = bench.market()
    bench.exchange.muted = True  # its fill is never told
    bench.engine.on_intents((intent,), at)
    assert bench.state(intent.position_id) != "open"
    # It fills at the next step, a minute later by the clock (past the lookup's deadline), with candles hours old.
    at = bench.market(behind_ms=3 * 3_600_000)
    bench.engine.on_intents((), at)
    assert bench.state(intent.position_id) == "open"  # looked up by its client order id ...
    assert [cid.split("-")[1] for cid in bench.exchange.placed].count("e") == 1  # ... and never sent again
