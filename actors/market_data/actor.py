"""The market-data actor: cleans closed candles, updates indicators, starts each time step."""

from __future__ import annotations

from typing import Any

from actors.base import SupervisedActor
from actors.market_data.candles import MarketCleaner
from actors.market_data.indicators import SymbolIndicators, correlations
from actors.messages import CandleBatch, Step, Tick

CORRELATION_EVERY = 60  # steps between correlation updates: 45 pairs of 10 symbols cost ~1 ms, too much per step


class MarketDataActor(SupervisedActor):
    name = "market_data"

    def start_up(self) -> None:
        # Indicators are rebuilt from the feed after a restart: they re-warm, they are not persisted.
        self.cleaner = MarketCleaner()
        self.indicators: dict[str, SymbolIndicators] = {}
        self.correlations: tuple[tuple[str, str, float], ...] = ()
        self.steps = 0

    def handle(self, message: Any) -> Any:
        match message:
            case CandleBatch():
                self._on_batch(message)
            case Tick():
                self.start_step(Step(at=message.at, correlations=self.correlations))
        return None

    def _on_batch(self, batch: CandleBatch) -> None:
        candles = self.cleaner.accept_batch(batch.candles)
        snapshots = []
        for candle in candles:
            state = self.indicators.get(candle.symbol)
            if state is None:
                state = self.indicators[candle.symbol] = SymbolIndicators(candle.symbol)
            snapshots.append(state.update(candle))
        self.steps += 1
        if self.steps % CORRELATION_EVERY == 0 and len(self.indicators) > 1:
            self.correlations = correlations(list(self.indicators.values()))
        self.start_step(Step(at=batch.at, candles=candles, snapshots=tuple(snapshots), correlations=self.correlations))

    def counters(self) -> dict[str, int]:
        return self.cleaner.counters.as_dict()
