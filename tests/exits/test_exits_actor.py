"""The exit actor's part of a step, on the one-thread runtime, with a stand-in for the next stage."""

from __future__ import annotations

import queue
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka

from actors.base import ActorContext, Registry
from actors.clock import VirtualClock
from actors.exits.actor import ExitsActor
from actors.messages import Portfolio, Stage, Step, SymbolFilters
from actors.runtime import InlineRef, InlineRuntime
from config import Settings
from exchange.factory import make_exchange
from persistence.db import make_engine, sqlite_url
from persistence.migrate import upgrade

AT = 1_700_000_040_000


class NextStage(pykka.ThreadingActor):
    """Takes the place of the signals actor: keeps what it is handed."""

    def __init__(self, received: list[Any]) -> None:
        super().__init__()
        self.received = received

    def on_receive(self, message: Any) -> Any:
        self.received.append(message)


def _filters(tick_size: str) -> SymbolFilters:
    return SymbolFilters(tick_size=Decimal(tick_size), step_size=Decimal("0.001"), min_qty=Decimal("0.001"))


def _portfolio_step(filters: tuple[tuple[str, SymbolFilters], ...]) -> Step:
    portfolio = Portfolio(equity=Decimal(1000), day_start_equity=Decimal(1000), filters=filters)
    return Step(at=AT, stage=Stage.PORTFOLIO, portfolio=portfolio)


def test_exits_filters_handed_on_in_a_new_tuple_replace_the_ones_seen(tmp_path: Path) -> None:
    settings = Settings()
    engine = make_engine(sqlite_url(tmp_path / "exits.db"))
    upgrade(engine)
    runtime = InlineRuntime()
    context = ActorContext(
        settings=settings,
        clock=VirtualClock(AT),
        engine=engine,
        registry=Registry(),
        failures=queue.SimpleQueue(),
        step_done=queue.SimpleQueue(),
        exchange=make_exchange(settings, engine),
    )
    received: list[Any] = []
    context.registry.set("signals", runtime.spawn(NextStage, received))
    exits = ExitsActor(context)
    ref = InlineRef(runtime, exits)
    ref.start()
    first = (("BTCUSDT", _filters("0.1")),)
    try:
        for filters in (first, first, (("BTCUSDT", _filters("0.5")),)):
            ref.tell(_portfolio_step(filters))
            runtime.run()
    finally:
        engine.dispose()
    assert exits.filters == {"BTCUSDT": _filters("0.5")}
    assert [step.stage for step in received] == [Stage.EXITS] * 3
