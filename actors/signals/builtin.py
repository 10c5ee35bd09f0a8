"""The built-in strategy: a fast/slow EMA crossover confirmed by an ATR band.

Rule (numbers in `CrossoverParams`):

* gap = (EMA(close, 20) - EMA(close, 50)) / ATR, with the market-data snapshot's ATR;
* the symbol's trend side turns LONG when gap > +0.75 and SHORT when gap < -0.75
  (hysteresis: a wiggle around the crossing point changes nothing, which keeps the
  count to a few hundred signals over a month of 1m candles, not thousands);
* a **signal is emitted only when the side changes**, never on the side found when
  the warm-up ends (that is not a crossover) and never twice for one crossing;
* confidence = 0.40 + 0.35 x strength + regime adjustment, clamped to [0, 1], where
  strength = min(1, slope_z / 0.8) of the fast EMA in the signal's direction
  (slope_z as in `indicators`: its move over 20 candles over ATR x sqrt(20); 0 when
  it points the other way; the fast EMA because the slow one has barely turned
  when the crossing is confirmed) and the regime adjustment is +0.15 when the
  snapshot's regime agrees (TRENDING_UP for LONG), -0.15 when it is the opposite
  trend, -0.10 in CHOPPY, 0 in SIDEWAYS. So a crossing on a flat fast EMA in a
  choppy market scores 0.30 (below every policy threshold) and a decisive crossing
  in an agreeing trend 0.90. On the FTX month the median is about 0.6.
* written on the strategy interface (actors/signals/strategy.py), with a window of one candle: the EMAs are
  its own running state, seeded by the first close it sees. The runner names the signal
  f"builtin-{symbol}-{open_time}" of the candle that confirmed it (deterministic, so a replay yields the same
  ids); `at` is that candle's close time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from actors.signals.strategy import Regime, Side, Strategy, StrategySignal, Window


class CrossoverParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fast: int = 20
    slow: int = 50
    band_atr: float = 0.75
    slope_lookback: int = 20
    base_confidence: float = 0.40
    strength_weight: float = 0.35
    full_strength_z: float = 0.8
    regime_agrees: float = 0.15
    regime_opposes: float = -0.15
    regime_choppy: float = -0.10


@dataclass(slots=True)
class _SymbolState:
    count: int = 0
    fast: float = 0.0
    slow: float = 0.0
    side: Side | None = None
    fast_history: list[float] = field(default_factory=list)  # ring of the last k fast EMAs


class EmaCrossoverStrategy(Strategy[CrossoverParams]):
    """Deterministic per-symbol EMA crossover; fed every closed candle of every symbol."""

    name = "builtin"
    history = 1
    Params = CrossoverParams

    def __init__(self, params: CrossoverParams | None = None) -> None:
        super().__init__(params if params is not None else CrossoverParams())
        p = self.params
        # What `on_candle` reads of the parameters on every candle, as plain attributes.
        self._fast_alpha = 2.0 / (p.fast + 1)
        self._slow_alpha = 2.0 / (p.slow + 1)
        self._lookback = p.slope_lookback
        self._warmup = max(p.slow, p.slope_lookback + 1)  # candles before a side is judged
        self._band = p.band_atr
        self._states: dict[str, _SymbolState] = {}

    def side(self, symbol: str) -> Side | None:
        """The trend side the strategy currently sees for `symbol` (None during warm-up)."""
        state = self._states.get(symbol)
        return state.side if state else None

    def on_candle(self, window: Window) -> tuple[StrategySignal, ...]:
        symbol = window.symbol
        state = self._states.get(symbol)
        if state is None:
            state = self._states[symbol] = _SymbolState(fast_history=[0.0] * self._lookback)
        close = float(window.last("close"))
        count = state.count = state.count + 1
        if count == 1:
            fast = slow = close
        else:
            fast = state.fast + self._fast_alpha * (close - state.fast)
            slow = state.slow + self._slow_alpha * (close - state.slow)
        state.fast, state.slow = fast, slow
        slot = count % self._lookback
        fast_ago = state.fast_history[slot]
        state.fast_history[slot] = fast
        if count < self._warmup:
            return ()
        atr = float(window.last("atr"))
        if not atr > 0.0:
            return ()
        gap = (fast - slow) / atr
        if gap > self._band:
            new_side = Side.LONG
        elif gap < -self._band:
            new_side = Side.SHORT
        else:
            return ()
        previous, state.side = state.side, new_side
        if previous is None or previous is new_side:
            return ()
        slope_z = (fast - fast_ago) / (atr * math.sqrt(self._lookback))
        confidence = self.confidence(new_side, slope_z, Regime(str(window.last("regime"))))
        return (StrategySignal(symbol=symbol, side=new_side, confidence=confidence),)

    def confidence(self, side: Side, slope_z: float, regime: Regime) -> float:
        p = self.params
        strength = min(1.0, max(0.0, side.sign * slope_z / p.full_strength_z))
        agreeing = Regime.TRENDING_UP if side is Side.LONG else Regime.TRENDING_DOWN
        opposing = Regime.TRENDING_DOWN if side is Side.LONG else Regime.TRENDING_UP
        adjustment = {agreeing: p.regime_agrees, opposing: p.regime_opposes, Regime.CHOPPY: p.regime_choppy}.get(
            regime, 0.0
        )
        value = p.base_confidence + p.strength_weight * strength + adjustment
        return round(min(1.0, max(0.0, value)), 6)
