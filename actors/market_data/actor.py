"""The market-data actor: cleans closed candles, updates indicators, starts each time step."""

from __future__ import annotations

from typing import Any

from actors.base import SupervisedActor
from actors.market_data.candles import MarketCleaner
from actors.market_data.correlation import RollingCorrelations
from actors.market_data.indicators import SymbolIndicators
from actors.messages import CandleBatch, Step, Tick


class MarketDataActor(SupervisedActor):
    name = "market_data"

    def start_up(self) -> None:
        # Indicators are rebuilt from the feed after a restart: they re-warm, they are not persisted.
        self.cleaner = MarketCleaner()
        self.indicators: dict[str, SymbolIndicators] = {}
        # Correlations follow every batch over the last `lookback` returns, the warm-up's included, so they are
        # known as soon as the warm-up has that many candles.
        self.rolling_correlations = RollingCorrelations(self.ctx.settings.risk.correlation_lookback)
        self.correlations: tuple[tuple[str, str, float], ...] = ()

    def handle(self, message: Any) -> Any:
        match message:
            case CandleBatch():
                self._on_batch(message)
            case Tick():
                self.start_step(Step(at=message.at, correlations=self.correlations))
        return None

    def _on_batch(self, batch: CandleBatch) -> None:
        candles = batch.candles if batch.cleaned else self.cleaner.accept_batch(batch.candles)
        snapshots = []
        for candle in candles:
            state = self.indicators.get(candle.symbol)
            if state is None:
                state = self.indicators[candle.symbol] = SymbolIndicators(candle.symbol)
            snapshots.append(state.update(candle))
        if candles:
            self.rolling_correlations.update(candles)
            if len(self.indicators) > 1:
                self.correlations = self.rolling_correlations.pairs()
        self.start_step(Step(at=batch.at, candles=candles, snapshots=tuple(snapshots), correlations=self.correlations))

    def counters(self) -> dict[str, int]:
        """What this actor's cleaning found; a batch its feed cleaned is counted by the feed."""
        return self.cleaner.counters.as_dict()
