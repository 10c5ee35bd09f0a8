"""SMA 10/50 crossover, long only: the strategy the replay peers (freqtrade, nautilus_trader) were measured with.

LONG when the fast simple moving average of the closes crosses above the slow one: above it on this candle, at or
below it on the one before. A cross down says nothing (long only: the exits close the position).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from actors.signals.strategy import Side, Strategy, StrategySignal, Window


class SmaParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fast: int = Field(default=10, ge=1, description="candles of the fast average")
    slow: int = Field(default=50, ge=2, le=1000, description="candles of the slow average")
    confidence: float = Field(default=0.75, ge=0, le=1, description="the confidence of every signal")

    @model_validator(mode="after")
    def _fast_is_faster(self) -> SmaParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self


class SmaCrossover(Strategy[SmaParams]):
    name = "sma_crossover"
    Params = SmaParams

    def __init__(self, params: SmaParams) -> None:
        super().__init__(params)
        self.history = params.slow + 1  # the slow average now and one candle before

    def on_candle(self, window: Window) -> list[StrategySignal]:
        close = window.close
        fast, slow = self.params.fast, self.params.slow
        above_now = close[-fast:].mean() > close[-slow:].mean()
        above_before = close[-fast - 1 : -1].mean() > close[-slow - 1 : -1].mean()
        if above_now and not above_before:
            note = f"SMA{fast} crossed above SMA{slow} at {close[-1]:g}"
            return [StrategySignal(symbol=window.symbol, side=Side.LONG, confidence=self.params.confidence, note=note)]
        return []
