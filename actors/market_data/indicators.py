"""Indicators (pure): ATR, ATR%, volatility level, regime, one closed candle at a time (`SymbolIndicators`); the
same rules over whole series, as numpy array operations, are in `vectorised.py`.

Rules (every number lives in `IndicatorParams`; defaults: ATR 14, volatility history
1000 candles with at least 100, EMA 50, slope over k = 20 candles, trend_z 0.5,
choppiness over 14 candles with threshold 61.8):

* **ATR** is Wilder's: true range TR_t = max(H-L, |H-C_{t-1}|, |L-C_{t-1}|) (H-L on the
  first candle); ATR_t = ATR_{t-1} + (TR_t - ATR_{t-1}) / min(t, period). For the first
  `period` candles this is the running mean of the TRs, i.e. Wilder's seed, so the ATR
  is defined from the first candle on (sizing always has a stop distance) and equals
  textbook Wilder from candle `period` on.
* **ATR%** is a *fraction* of the close (0.004 is 0.4%), like every percentage in
  `config/`.
* **Volatility level**: the current ATR% is ranked against the previous
  `vol_history` ATR% values of the same symbol (mid-rank, so ties count half):
  rank < 0.25 LOW, < 0.75 NORMAL, < 0.95 HIGH, else EXTREME, but EXTREME also
  needs the ATR% at least `vol_extreme_ratio` (2x) its window's median: a rank
  alone calls the top 5% of any calm market extreme, and EXTREME closes the gate. Until
  `vol_min_history` values exist (and during the ATR warm-up) the level is NORMAL:
  a rank over a handful of samples would close the gate on noise.
* **Regime**: slope_z = (EMA_t - EMA_{t-k}) / (ATR_t * sqrt(k)) with EMA(`ema_period`)
  and k = `slope_lookback` (the EMA's move in units of the move a random walk of that
  ATR makes in k candles); chop = Choppiness Index over `chop_period` candles,
  100 * log10(sum TR / (max H - min L)) / log10(n) (about 50 for a random walk,
  high when candles overlap without going anywhere). Then:
  chop >= 61.8 -> CHOPPY; else slope_z >= +trend_z -> TRENDING_UP;
  slope_z <= -trend_z -> TRENDING_DOWN; else SIDEWAYS. SIDEWAYS during warm-up
  (`IndicatorParams.warmup`, 50 candles). On a random walk |slope_z| > 0.5 about a
  quarter of the time and chop > 61.8 about 5%; on the FTX BTC month: 80% SIDEWAYS,
  8% each trend, 4% CHOPPY.
* **Correlation** between symbols' returns: `correlation.py`.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from actors.messages import Candle, MarketSnapshot, Regime, VolatilityLevel


@dataclass(frozen=True, slots=True, kw_only=True)
class IndicatorParams:
    atr_period: int = 14
    vol_history: int = 1000
    vol_min_history: int = 100
    vol_low_rank: float = 0.25
    vol_normal_rank: float = 0.75
    vol_high_rank: float = 0.95
    vol_extreme_ratio: float = 2.0
    ema_period: int = 50
    slope_lookback: int = 20
    trend_z: float = 0.5
    chop_period: int = 14
    chop_threshold: float = 61.8

    @property
    def warmup(self) -> int:
        """Candles before the regime is more than SIDEWAYS."""
        return max(self.ema_period, self.slope_lookback + 1, self.chop_period + 1, self.atr_period)


DEFAULT_PARAMS = IndicatorParams()

# The members as module constants: in Python 3.11 reading `Regime.SIDEWAYS` goes through the enum's class
# machinery and costs some fifteen times a global, and every candle reads two or three of them.
_TRENDING_UP, _TRENDING_DOWN, _SIDEWAYS, _CHOPPY = (
    Regime.TRENDING_UP,
    Regime.TRENDING_DOWN,
    Regime.SIDEWAYS,
    Regime.CHOPPY,
)
_LOW, _NORMAL, _HIGH, _EXTREME = (
    VolatilityLevel.LOW,
    VolatilityLevel.NORMAL,
    VolatilityLevel.HIGH,
    VolatilityLevel.EXTREME,
)


def classify_regime(slope_z: float, chop: float, params: IndicatorParams = DEFAULT_PARAMS) -> Regime:
    """The regime rule of the module docstring, on one candle's inputs."""
    if chop >= params.chop_threshold:  # NaN compares False: flat windows fall through
        return _CHOPPY
    if slope_z >= params.trend_z:
        return _TRENDING_UP
    if slope_z <= -params.trend_z:
        return _TRENDING_DOWN
    return _SIDEWAYS


class PercentileWindow:
    """The last `size` values, kept sorted too, so a rank costs a bisect instead of a sort."""

    __slots__ = ("_next", "_ring", "_size", "_sorted")

    def __init__(self, size: int) -> None:
        self._ring: list[float] = []
        self._sorted: list[float] = []
        self._size = size
        self._next = 0

    def __len__(self) -> int:
        return len(self._ring)

    def rank(self, value: float) -> float:
        """Mid-rank of `value` among the window, in [0, 1]; 0.5 when empty."""
        n = len(self._sorted)
        if n == 0:
            return 0.5
        return (bisect_left(self._sorted, value) + bisect_right(self._sorted, value)) / (2 * n)

    def median(self) -> float:
        n = len(self._sorted)
        return self._sorted[n // 2] if n else math.nan

    def push(self, value: float) -> None:
        self.rank_and_push(value)

    def rank_and_push(self, value: float) -> tuple[float, float]:
        """`rank(value)` and `median()`, then take `value` in (NaN aside: it would break the sorted invariant for
        good); one call per candle instead of three. The insert reuses the rank's bisect: `after` counts the values
        at most `value`, where `insort` would put it."""
        ordered, ring = self._sorted, self._ring
        n = len(ordered)
        if n == 0:
            rank, median = 0.5, math.nan
            after = 0
        else:
            after = bisect_right(ordered, value)
            rank = (bisect_left(ordered, value) + after) / (2 * n)
            median = ordered[n // 2]
        if value != value:
            return rank, median
        if n < self._size:
            ring.append(value)
        else:
            oldest = self._next
            gone = bisect_left(ordered, ring[oldest])
            del ordered[gone]
            if gone < after:  # the oldest was at most `value`: one fewer before it now
                after -= 1
            ring[oldest] = value
            self._next = oldest + 1 if oldest + 1 < n else 0
        ordered.insert(after, value)
        return rank, median


def level_from_rank(rank: float, params: IndicatorParams = DEFAULT_PARAMS, ratio: float = math.inf) -> VolatilityLevel:
    """`ratio` is the current ATR% over its window's median (infinite when unknown)."""
    if rank < params.vol_low_rank:
        return _LOW
    if rank < params.vol_normal_rank:
        return _NORMAL
    if rank < params.vol_high_rank or ratio < params.vol_extreme_ratio:
        return _HIGH
    return _EXTREME


class SymbolIndicators:
    """One symbol's indicators, updated per closed candle in O(1) (bisects over a
    `vol_history` list aside). Candles are expected cleaned (`CandleCleaner`)."""

    __slots__ = (
        "_alpha",
        "_atr_period",
        "_chop_period",
        "_emas",
        "_high",
        "_highs",
        "_log_chop_n",
        "_low",
        "_lows",
        "_slope_lookback",
        "_sqrt_k",
        "_trs",
        "_vol",
        "_vol_min_history",
        "_vol_ready",
        "_warmup",
        "atr",
        "chop",
        "count",
        "ema",
        "last_close",
        "params",
        "slope_z",
        "symbol",
    )

    def __init__(self, symbol: str, params: IndicatorParams = DEFAULT_PARAMS) -> None:
        self.symbol = symbol
        self.params = params
        self.count = 0
        self.atr = 0.0
        self.ema = 0.0
        self.slope_z = 0.0
        self.chop = math.nan
        self.last_close = math.nan
        # The parameters `update` reads on every candle, as plain attributes (`warmup` is a computed property).
        self._warmup = params.warmup
        self._atr_period = params.atr_period
        self._slope_lookback = params.slope_lookback
        self._chop_period = params.chop_period
        self._vol_min_history = params.vol_min_history
        self._alpha = 2.0 / (params.ema_period + 1)
        self._sqrt_k = math.sqrt(params.slope_lookback)
        self._log_chop_n = math.log10(params.chop_period)
        self._emas = [0.0] * params.slope_lookback  # EMA of the last k candles, ring
        self._highs = [0.0] * params.chop_period
        self._lows = [0.0] * params.chop_period
        self._high, self._low = 0.0, 0.0  # max(_highs) and min(_lows), kept as the candles come
        self._trs = [0.0] * params.chop_period
        self._vol = PercentileWindow(params.vol_history)
        self._vol_ready = False  # the window holds `vol_min_history` values: it only grows or stays full

    def update(self, candle: Candle) -> MarketSnapshot:
        h, l, c = candle.high, candle.low, candle.close
        n = self.count + 1
        tr = h - l
        if n > 1:
            # Inline max of three: several times faster than builtin max() per candle.
            prev = self.last_close
            up, down = h - prev, prev - l
            if up > tr:
                tr = up
            if down > tr:
                tr = down
        atr_period = self._atr_period
        atr_value = self.atr + (tr - self.atr) / (n if n < atr_period else atr_period)
        self.atr = atr_value
        ema_value = c if n == 1 else self.ema + self._alpha * (c - self.ema)
        self.ema = ema_value

        emas = self._emas
        slot = n % self._slope_lookback
        ema_ago = emas[slot]  # the EMA of candle n - k (valid once n > k)
        emas[slot] = ema_value
        slot = n % self._chop_period
        # The window's extremes are exact whatever the order they are found in: a new one replaces the old at once,
        # and they are searched again only when the old one leaves (the builtins cost far more over 14 floats).
        highs, lows = self._highs, self._lows
        gone = highs[slot]
        highs[slot] = h
        if h >= self._high:
            self._high = h
        elif gone == self._high:
            self._high = max(highs)
        gone = lows[slot]
        lows[slot] = l
        if l <= self._low:
            self._low = l
        elif gone == self._low:
            self._low = min(lows)
        self._trs[slot] = tr

        regime = _SIDEWAYS
        if n >= self._warmup:
            self.slope_z = (ema_value - ema_ago) / (atr_value * self._sqrt_k) if atr_value > 0.0 else 0.0
            span = self._high - self._low
            tr_sum = sum(self._trs)
            self.chop = (
                100.0 * math.log10(tr_sum / span) / self._log_chop_n if span > 0.0 and tr_sum > 0.0 else math.nan
            )
            regime = classify_regime(self.slope_z, self.chop, self.params)

        atr_pct = atr_value / c if c > 0.0 else math.nan
        volatility = _NORMAL
        if n >= atr_period:
            window = self._vol
            if self._vol_ready:
                rank, median = window.rank_and_push(atr_pct)
                volatility = level_from_rank(rank, self.params, atr_pct / median if median > 0 else math.inf)
            else:
                window.push(atr_pct)
                self._vol_ready = len(window) >= self._vol_min_history

        self.count = n
        self.last_close = c
        return MarketSnapshot(
            symbol=self.symbol,
            at=candle.open_time + candle.interval_ms,
            price=c,
            atr=atr_value,
            atr_pct=atr_pct,
            volatility=volatility,
            regime=regime,
        )
