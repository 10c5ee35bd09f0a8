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
from collections.abc import Mapping
from functools import lru_cache

from actors.messages import MarketSnapshot, Regime, VolatilityLevel

_VOLATILITY_ORDER = (VolatilityLevel.LOW, VolatilityLevel.NORMAL, VolatilityLevel.HIGH, VolatilityLevel.EXTREME)
_CAUTION_ORDER = (Regime.CHOPPY, Regime.SIDEWAYS, Regime.TRENDING_DOWN, Regime.TRENDING_UP)


def market_conditions(
    snapshots: tuple[MarketSnapshot, ...],
    reference_symbol: str,
) -> tuple[Regime, VolatilityLevel]:
    """(regime, volatility) of the market as a whole; raises ValueError with no snapshots,
    so the orchestrator falls back instead of inventing calm conditions."""
    latest = {snapshot.symbol: snapshot for snapshot in sorted(snapshots, key=lambda s: s.at)}
    return conditions_of({symbol: (s.regime, s.volatility) for symbol, s in latest.items()}, reference_symbol)


def conditions_of(
    levels: Mapping[str, tuple[Regime, VolatilityLevel]],
    reference_symbol: str,
) -> tuple[Regime, VolatilityLevel]:
    """`market_conditions` from each symbol's latest (regime, volatility): what the orchestrator keeps as the
    snapshots come, so a step that changed one of them sorts and copies no snapshots. Raises ValueError with none."""
    if not levels:
        raise ValueError("no market snapshots: market conditions are unknown")
    return _conditions(tuple(levels.values()), levels.get(reference_symbol))


# A pure function of a few enums: the orchestrator asks again whenever a symbol's regime or volatility changed, and
# the same few combinations come back over and over (never stale, so only its size bounds it).
@lru_cache(maxsize=1024)
def _conditions(
    levels: tuple[tuple[Regime, VolatilityLevel], ...], reference: tuple[Regime, VolatilityLevel] | None
) -> tuple[Regime, VolatilityLevel]:
    """From each symbol's (regime, volatility), and the reference symbol's when there is a snapshot of it."""
    regime = reference[0] if reference is not None else _most_common_regime(tuple(r for r, _ in levels))
    if reference is not None and reference[1] is VolatilityLevel.EXTREME:
        return regime, VolatilityLevel.EXTREME
    return regime, _upper_median_volatility(tuple(v for _, v in levels))


def _most_common_regime(regimes: tuple[Regime, ...]) -> Regime:
    counts = Counter(regimes)
    return max(_CAUTION_ORDER, key=lambda regime: (counts[regime], -_CAUTION_ORDER.index(regime)))


def _upper_median_volatility(levels: tuple[VolatilityLevel, ...]) -> VolatilityLevel:
    ranks = sorted((_VOLATILITY_ORDER.index(level) for level in levels), reverse=True)
    # ranks[k] is the level at or above which k + 1 symbols sit; we need k + 1 >= n / 2.
    needed = (len(ranks) + 1) // 2
    return _VOLATILITY_ORDER[ranks[needed - 1]]
