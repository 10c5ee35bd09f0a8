"""Market-wide regime and volatility from per-symbol snapshots."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.messages import MarketSnapshot, Regime, VolatilityLevel
from actors.orchestrator.conditions import conditions_of, market_conditions

L, N, H, E = VolatilityLevel.LOW, VolatilityLevel.NORMAL, VolatilityLevel.HIGH, VolatilityLevel.EXTREME


def snap(symbol: str, volatility: VolatilityLevel, regime: Regime = Regime.SIDEWAYS, at: int = 1) -> MarketSnapshot:
    return MarketSnapshot(
        symbol=symbol, at=at, price=100.0, atr=1.0, atr_pct=0.01, volatility=volatility, regime=regime
    )


def test_market_conditions_regime_follows_reference_symbol():
    snapshots = (
        snap("BTCUSDT", N, Regime.TRENDING_UP),
        snap("ETHUSDT", N, Regime.CHOPPY),
        snap("SOLUSDT", N, Regime.CHOPPY),
    )
    assert market_conditions(snapshots, "BTCUSDT")[0] is Regime.TRENDING_UP


def test_market_conditions_missing_reference_uses_most_common_regime():
    snapshots = (
        snap("ETHUSDT", N, Regime.TRENDING_DOWN),
        snap("SOLUSDT", N, Regime.TRENDING_DOWN),
        snap("XRPUSDT", N, Regime.SIDEWAYS),
    )
    assert market_conditions(snapshots, "BTCUSDT")[0] is Regime.TRENDING_DOWN


def test_market_conditions_regime_tie_prefers_cautious():
    snapshots = (snap("ETHUSDT", N, Regime.TRENDING_UP), snap("SOLUSDT", N, Regime.CHOPPY))
    assert market_conditions(snapshots, "BTCUSDT")[0] is Regime.CHOPPY


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ((E, H, N, N, L), N),  # only 2 of 5 at HIGH or above: not half
        ((E, H, H, N, L), H),  # 3 of 5 at HIGH or above
        ((H, H, N, N), H),  # exactly half counts
        ((E, E, L, L), E),
        ((L, L, L, N), L),
    ],
)
def test_market_conditions_volatility_is_upper_median(levels, expected):
    snapshots = tuple(snap(f"S{index}USDT", level) for index, level in enumerate(levels))
    assert market_conditions(snapshots, "BTCUSDT")[1] is expected


def test_market_conditions_extreme_reference_makes_market_extreme():
    snapshots = (snap("BTCUSDT", E), snap("ETHUSDT", L), snap("SOLUSDT", L))
    assert market_conditions(snapshots, "BTCUSDT")[1] is E


def test_market_conditions_latest_snapshot_per_symbol_wins():
    snapshots = (snap("BTCUSDT", E, at=2), snap("BTCUSDT", L, at=1))
    assert market_conditions(snapshots, "BTCUSDT")[1] is E


def test_market_conditions_no_snapshots_raises():
    with pytest.raises(ValueError, match="no market snapshots"):
        market_conditions((), "BTCUSDT")


def test_conditions_of_no_levels_raises():
    with pytest.raises(ValueError, match="no market snapshots"):
        conditions_of({}, "BTCUSDT")


SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
CAUTION = (Regime.CHOPPY, Regime.SIDEWAYS, Regime.TRENDING_DOWN, Regime.TRENDING_UP)
RANK = (L, N, H, E)


@given(
    st.lists(
        st.tuples(st.sampled_from(SYMBOLS), st.sampled_from(list(Regime)), st.sampled_from(RANK)),
        min_size=1,
        max_size=8,
    )
)
def test_conditions_of_levels_kept_as_snapshots_come_is_the_rule_on_the_latest(updates):
    # What the orchestrator keeps: each symbol's latest (regime, volatility), overwritten as snapshots come.
    levels: dict[str, tuple[Regime, VolatilityLevel]] = {}
    for symbol, regime, volatility in updates:
        levels[symbol] = (regime, volatility)
    snapshots = tuple(snap(s, v, r, at=i) for i, (s, r, v) in enumerate(updates))
    assert conditions_of(levels, "BTCUSDT") == market_conditions(snapshots, "BTCUSDT")
    # The rule, plainly: the reference's regime, else the most common (the more cautious on a tie); the highest
    # level at or above which at least half of the symbols sit, EXTREME whenever the reference is.
    reference = levels.get("BTCUSDT")
    regimes = [r for r, _ in levels.values()]
    regime = reference[0] if reference else max(CAUTION, key=lambda r: (regimes.count(r), -CAUTION.index(r)))
    volatility = max(
        (v for v in RANK if 2 * sum(RANK.index(w) >= RANK.index(v) for _, w in levels.values()) >= len(levels)),
        key=RANK.index,
    )
    if reference and reference[1] is E:
        volatility = E
    assert conditions_of(levels, "BTCUSDT") == (regime, volatility)
