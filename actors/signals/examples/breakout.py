"""Channel breakout confirmed by the indicators: a close beyond the last `lookback` candles' range by a margin of
ATR, in a market that is neither choppy nor in extreme volatility.

* LONG when the close is above the highest high of the `lookback` candles before it by `margin_atr` x ATR, and the
  candle before was not (only the first candle of a breakout signals); SHORT the same way below the lowest low;
* nothing while the regime is CHOPPY (ranges that break and fall back) or the volatility EXTREME;
* confidence = `base_confidence`, + `trend_bonus` when the regime trends the signal's way, - `trend_bonus` when it
  trends the other way.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from actors.signals.strategy import Regime, Side, Strategy, StrategySignal, VolatilityLevel, Window


class BreakoutParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lookback: int = Field(default=20, ge=2, le=1000, description="candles whose range a close must break")
    margin_atr: float = Field(default=0.25, ge=0, description="how far beyond the range, in ATRs")
    base_confidence: float = Field(default=0.6, ge=0, le=1)
    trend_bonus: float = Field(default=0.15, ge=0, le=0.5)


class Breakout(Strategy[BreakoutParams]):
    name = "breakout"
    Params = BreakoutParams

    def __init__(self, params: BreakoutParams) -> None:
        super().__init__(params)
        self.history = params.lookback + 2  # the range before the previous candle too

    def on_candle(self, window: Window) -> list[StrategySignal]:
        if window.regime[-1] == Regime.CHOPPY or window.volatility[-1] == VolatilityLevel.EXTREME:
            return []
        side = self._breakout(window, -1)
        if side is None or self._breakout(window, -2) is side:
            return []
        agreeing = Regime.TRENDING_UP if side is Side.LONG else Regime.TRENDING_DOWN
        opposing = Regime.TRENDING_DOWN if side is Side.LONG else Regime.TRENDING_UP
        p = self.params
        confidence = p.base_confidence + p.trend_bonus * (
            (window.regime[-1] == agreeing) - (window.regime[-1] == opposing)
        )
        confidence = float(np.clip(confidence, 0.0, 1.0))
        note = f"close {window.close[-1]:g} broke the {p.lookback}-candle range"
        return [StrategySignal(symbol=window.symbol, side=side, confidence=confidence, note=note)]

    def _breakout(self, window: Window, at: int) -> Side | None:
        """The side the close of candle `at` (-1: the last) broke out to, against the lookback before it."""
        p = self.params
        end = len(window) + at  # the range is the candles before `at`
        start = end - p.lookback
        margin = p.margin_atr * float(window.atr[at])
        close = float(window.close[at])
        if close > float(window.high[start:end].max()) + margin:
            return Side.LONG
        if close < float(window.low[start:end].min()) - margin:
            return Side.SHORT
        return None
