"""Market-wide regime and volatility from per-symbol snapshots (the policy's inputs).

Rule, documented once here:
- regime: the reference symbol's (e.g. BTCUSDT leads the futures market). Without a
  snapshot of it, the most common regime; a tie goes to the more cautious regime
  (CHOPPY, then SIDEWAYS, then TRENDING_DOWN, then TRENDING_UP), because a trending
  regime is what unlocks the wide TREND_FOLLOW exits.
- volatility: the highest level at or above which at least half of the symbols sit
  (an upper median: one wild symbol does not pause the whole book, half of them do).
  EXTREME whenever the reference symbol is EXTREME: it moves the rest.
"""

from __future__ import annotations

from collections import Counter

from actors.messages import MarketSnapshot, Regime, VolatilityLevel

_VOLATILITY_ORDER = (VolatilityLevel.LOW, VolatilityLevel.NORMAL, VolatilityLevel.HIGH, VolatilityLevel.EXTREME)
_CAUTION_ORDER = (Regime.CHOPPY, Regime.SIDEWAYS, Regime.TRENDING_DOWN, Regime.TRENDING_UP)


def market_conditions(
    snapshots: tuple[MarketSnapshot, ...],
    reference_symbol: str,
) -> tuple[Regime, VolatilityLevel]:
    """(regime, volatility) of the market as a whole; raises ValueError with no snapshots,
    so the orchestrator falls back instead of inventing calm conditions."""
    if not snapshots:
        raise ValueError("no market snapshots: market conditions are unknown")
    latest = {snapshot.symbol: snapshot for snapshot in sorted(snapshots, key=lambda s: s.at)}
    reference = latest.get(reference_symbol)
    regime = reference.regime if reference is not None else _most_common_regime(tuple(latest.values()))
    if reference is not None and reference.volatility is VolatilityLevel.EXTREME:
        return regime, VolatilityLevel.EXTREME
    return regime, _upper_median_volatility(tuple(latest.values()))


def _most_common_regime(snapshots: tuple[MarketSnapshot, ...]) -> Regime:
    counts = Counter(snapshot.regime for snapshot in snapshots)
    return max(_CAUTION_ORDER, key=lambda regime: (counts[regime], -_CAUTION_ORDER.index(regime)))


def _upper_median_volatility(snapshots: tuple[MarketSnapshot, ...]) -> VolatilityLevel:
    ranks = sorted((_VOLATILITY_ORDER.index(s.volatility) for s in snapshots), reverse=True)
    # ranks[k] is the level at or above which k + 1 symbols sit; we need k + 1 >= n / 2.
    needed = (len(ranks) + 1) // 2
    return _VOLATILITY_ORDER[ranks[needed - 1]]
