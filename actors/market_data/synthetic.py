"""Synthetic market: seeded, several correlated symbols, regime segments and volatility bursts.

The model (per candle, log prices, sigma = the symbol's base volatility x the burst
multiplier):

* one market-wide **regime schedule**: segments of `segment_min`..`segment_max`
  candles, each a regime different from the previous, drawn uniformly;
  TRENDING_UP/DOWN drift by +/- `trend_drift` sigma per candle; SIDEWAYS is a quiet
  (0.6 sigma, wicks 0.3 sigma) walk pulled gently (1%/candle) towards the segment's
  opening price; CHOPPY is a loud (1.5 sigma, wicks 2 sigma) walk pulled hard
  (80%/candle) back to it: big overlapping candles that go nowhere;
* a shock per candle `rho * market + sqrt(1 - rho^2) * own`, so returns correlate
  about `correlation` across symbols;
* **volatility bursts**, market-wide: with probability `burst_probability` per
  candle sigma jumps by x3..x6 and decays back with a half-life of `burst_half_life`
  candles;
* open = previous close, wicks of |N(0, 0.5 sigma)| beyond the body (trends), volume
  log-normal and proportional to the burst multiplier.

Everything comes from `numpy.random.default_rng(seed)` children drawn in fixed-size
chunks, so a seed gives the same candles whatever the consumer's pace.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator, Sequence

import numpy as np

from actors.messages import Candle, Regime

START_PRICES = {"BTCUSDT": 40_000.0, "ETHUSDT": 2_500.0, "SOLUSDT": 100.0, "BNBUSDT": 300.0, "XRPUSDT": 0.6}
_REGIMES = (Regime.TRENDING_UP, Regime.TRENDING_DOWN, Regime.SIDEWAYS, Regime.CHOPPY)
_CHUNK = 1024


class SyntheticFeed:
    """A `CandleFeed` of made-up candles; infinite unless `count` (time steps) is given."""

    def __init__(
        self,
        symbols: Sequence[str] = ("BTCUSDT", "ETHUSDT", "SOLUSDT"),
        *,
        seed: int = 7,
        interval_ms: int = 60_000,
        start_ms: int = 1_704_067_200_000,
        count: int | None = None,
        base_volatility: float = 0.001,
        correlation: float = 0.6,
        trend_drift: float = 0.25,
        segment_min: int = 150,
        segment_max: int = 600,
        burst_probability: float = 0.002,
        burst_half_life: float = 30.0,
    ) -> None:
        if not symbols:
            raise ValueError("a synthetic feed needs at least one symbol")
        self.symbols = tuple(symbols)
        self.seed = seed
        self.interval_ms = interval_ms
        self.start_ms = start_ms - start_ms % interval_ms  # candles open on interval boundaries
        self.count = count
        self.base_volatility = base_volatility
        self.correlation = correlation
        self.trend_drift = trend_drift
        self.segment_min, self.segment_max = segment_min, segment_max
        self.burst_probability = burst_probability
        self.burst_decay = 0.5 ** (1.0 / burst_half_life)
        self._segments: list[tuple[int, Regime]] = []  # (first step, regime), extended on demand
        self._starts: list[int] = []
        self._next_start = 0
        self._schedule_rng = np.random.default_rng([seed, 1])

    def regime_at(self, open_time: int) -> Regime:
        """The regime the generator was in for the candle opening at `open_time`."""
        step = (open_time - self.start_ms) // self.interval_ms
        self._extend_schedule(step)
        return self._segments[bisect_right(self._starts, step) - 1][1]

    def segments(self, steps: int) -> list[tuple[int, Regime]]:
        """(first open time, regime) of every segment starting in the first `steps` steps."""
        self._extend_schedule(steps)
        return [(self.start_ms + s * self.interval_ms, r) for s, r in self._segments if s < steps]

    def _extend_schedule(self, step: int) -> None:
        rng = self._schedule_rng
        while not self._segments or self._next_start <= step:
            previous = self._segments[-1][1] if self._segments else None
            choices = [r for r in _REGIMES if r is not previous]
            start = self._next_start if self._segments else 0
            self._segments.append((start, choices[int(rng.integers(len(choices)))]))
            self._starts.append(start)
            self._next_start = start + int(rng.integers(self.segment_min, self.segment_max + 1))

    def batches(self) -> Iterator[tuple[Candle, ...]]:
        """Each call replays the same candles from the start."""
        n = len(self.symbols)
        shocks_rng = np.random.default_rng([self.seed, 2])
        burst_rng = np.random.default_rng([self.seed, 3])
        rho = self.correlation
        own_weight = math.sqrt(max(0.0, 1.0 - rho * rho))
        scale = [self.base_volatility * (1.0 + 0.25 * i) for i in range(n)]  # altcoins move more
        log_price = [math.log(START_PRICES.get(s, 100.0)) for s in self.symbols]
        anchor = list(log_price)
        burst = 1.0
        segment_regime: Regime | None = None
        step = 0
        while self.count is None or step < self.count:
            market = shocks_rng.standard_normal(_CHUNK).tolist()
            own = shocks_rng.standard_normal((_CHUNK, n)).tolist()
            wicks = np.abs(shocks_rng.standard_normal((_CHUNK, n, 2))).tolist()
            volume_noise = shocks_rng.standard_normal((_CHUNK, n)).tolist()
            burst_start = (burst_rng.random(_CHUNK) < self.burst_probability).tolist()
            burst_size = burst_rng.uniform(3.0, 6.0, _CHUNK).tolist()
            for j in range(_CHUNK):
                if self.count is not None and step >= self.count:
                    return
                regime = self.regime_at(self.start_ms + step * self.interval_ms)
                if regime is not segment_regime:
                    segment_regime, anchor = regime, list(log_price)
                burst = 1.0 + (burst - 1.0) * self.burst_decay
                if burst_start[j]:
                    burst = max(burst, burst_size[j])
                open_time = self.start_ms + step * self.interval_ms
                batch = []
                for i, symbol in enumerate(self.symbols):
                    sigma = scale[i] * burst
                    shock = rho * market[j] + own_weight * own[j][i]
                    x = log_price[i]
                    wick = 0.5 * sigma
                    if regime is Regime.TRENDING_UP:
                        new = x + sigma * (self.trend_drift + shock)
                    elif regime is Regime.TRENDING_DOWN:
                        new = x + sigma * (-self.trend_drift + shock)
                    elif regime is Regime.SIDEWAYS:
                        new = x + 0.01 * (anchor[i] - x) + 0.6 * sigma * shock
                        wick = 0.3 * sigma
                    else:
                        new = x + 0.8 * (anchor[i] - x) + 1.5 * sigma * shock
                        wick = 2.0 * sigma
                    log_price[i] = new
                    o, c = math.exp(x), math.exp(new)
                    high = max(o, c) * math.exp(wick * wicks[j][i][0])
                    low = min(o, c) * math.exp(-wick * wicks[j][i][1])
                    volume = 100.0 * burst * math.exp(0.3 * volume_noise[j][i])
                    batch.append(
                        Candle(
                            symbol=symbol,
                            open_time=open_time,
                            open=o,
                            high=high,
                            low=low,
                            close=c,
                            volume=volume,
                            interval_ms=self.interval_ms,
                        )
                    )
                yield tuple(batch)
                step += 1
