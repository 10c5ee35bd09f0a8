"""Strategies fed real indicator snapshots (the market-data actor's `SymbolIndicators`) through a `Lineup`, the
signals actor's own strategy runner, without the actor system."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby
from typing import Any

from actors.market_data.indicators import SymbolIndicators
from actors.messages import Candle, Signal, Step
from actors.signals.lineup import Lineup
from actors.signals.loading import LoadedStrategy
from actors.signals.runner import StrategyFault
from actors.signals.strategy import Strategy


def loaded(cls: type[Strategy[Any]], symbols: Iterable[str], **params: Any) -> LoadedStrategy:
    return LoadedStrategy(
        spec=cls.__name__, name=cls.name, cls=cls, params=cls.Params(**params), symbols=tuple(symbols)
    )


def run(
    candles: Iterable[Candle], *strategies: LoadedStrategy, budget_ms: float = 0, max_failures: int = 3
) -> tuple[list[Signal], list[StrategyFault], Lineup]:
    """Every candle, grouped into steps by open time, through one lineup; its signals and faults in order."""
    lineup = Lineup(strategies, budget_ms=budget_ms, max_failures=max_failures)
    faults = lineup.start(0)
    indicators: dict[str, SymbolIndicators] = {}
    signals: list[Signal] = []
    for open_time, group in groupby(candles, key=lambda c: c.open_time):
        batch = tuple(group)
        snapshots = tuple(indicators.setdefault(c.symbol, SymbolIndicators(c.symbol)).update(c) for c in batch)
        found, failed = lineup.on_step(Step(at=open_time, candles=batch, snapshots=snapshots))
        signals.extend(found)
        faults.extend(failed)
    return signals, faults, lineup
