"""The built-in EMA crossover strategy. Uses real data from ../shared/data (FTX BTC-PERP 1m)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from actors.market_data.feeds import FileFeed
from actors.messages import Candle, Regime, Side, Signal
from actors.signals.builtin import CrossoverParams, EmaCrossoverStrategy
from actors.signals.loading import LoadedStrategy
from actors.signals.strategy import Window
from tests.signals.strategy_harness import loaded
from tests.signals.strategy_harness import run as run_strategies

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
FTX = DATA / "candles" / "ftx_BTCPERP_1m_20211231-20220201.csv"


def run(candles: list[Candle], params: CrossoverParams | None = None) -> list[Signal]:
    return run_strategies(candles, builtin(candles, params))[0]


def builtin(candles: list[Candle], params: CrossoverParams | None = None) -> LoadedStrategy:
    given = (params or CrossoverParams()).model_dump()
    return loaded(EmaCrossoverStrategy, sorted({c.symbol for c in candles}), **given)


def path_candles(closes: list[float], symbol: str = "BTCUSDT") -> list[Candle]:
    out, previous = [], closes[0]
    for i, close in enumerate(closes):
        out.append(
            Candle(
                symbol=symbol,
                open_time=i * 60_000,
                open=previous,
                high=max(previous, close) + 0.2,
                low=min(previous, close) - 0.2,
                close=close,
                volume=1.0,
            )
        )
        previous = close
    return out


@pytest.fixture(scope="module")
def ftx_candles() -> list[Candle]:
    return [c for batch in FileFeed([FTX]).batches() for c in batch]


def test_builtin_ftx_month_few_hundred_deterministic_signals(ftx_candles: list[Candle]) -> None:
    signals = run(ftx_candles)
    assert 100 <= len(signals) <= 1000
    assert signals == run(ftx_candles)  # same ids, sides and confidences on a replay
    assert len({s.id for s in signals}) == len(signals)
    assert all(0.0 <= s.confidence <= 1.0 and s.source == "builtin" for s in signals)
    assert all(a.side is not b.side for a, b in zip(signals, signals[1:]))  # only on crossovers
    assert signals[0].id == f"builtin-BTCPERP-{signals[0].at - 60_000}"
    confidences = sorted(s.confidence for s in signals)
    assert confidences[0] < 0.6 < confidences[-1]  # the policy thresholds (0.45-0.70) do discriminate


def test_builtin_down_then_up_emits_long_only_at_reversal() -> None:
    closes = [200.0 - 0.5 * i for i in range(150)] + [125.0 + 0.5 * i for i in range(150)]
    signals = run(path_candles(closes))
    assert [s.side for s in signals] == [Side.LONG]  # the initial downtrend is not a crossover
    assert 150 < signals[0].at // 60_000 < 200
    assert signals[0].confidence >= 0.6


def test_builtin_small_oscillation_inside_band_emits_nothing() -> None:
    candles = path_candles([100.0 + (0.3 if (i // 10) % 2 else -0.3) for i in range(600)])
    signals, faults, lineup = run_strategies(candles, builtin(candles))
    assert signals == [] and faults == []
    strategy = lineup.runners[0].strategy
    assert isinstance(strategy, EmaCrossoverStrategy) and strategy.side("BTCUSDT") is None


def test_builtin_symbols_tracked_independently() -> None:
    up_down = [100.0 + 0.5 * i for i in range(150)] + [175.0 - 0.5 * i for i in range(150)]
    candles = sorted(
        path_candles(up_down, "AUSDT") + path_candles([300.0 - x for x in up_down], "BUSDT"),
        key=lambda c: (c.open_time, c.symbol),
    )
    signals = run(candles)
    assert {(s.symbol, s.side) for s in signals} == {("AUSDT", Side.SHORT), ("BUSDT", Side.LONG)}


@pytest.mark.parametrize(
    ("side", "regime", "expected"),
    [
        (Side.LONG, Regime.TRENDING_UP, 0.90),
        (Side.LONG, Regime.TRENDING_DOWN, 0.60),
        (Side.SHORT, Regime.TRENDING_DOWN, 0.90),
        (Side.LONG, Regime.CHOPPY, 0.65),
        (Side.LONG, Regime.SIDEWAYS, 0.75),
    ],
)
def test_builtin_confidence_regime_agreement_documented_values(side: Side, regime: Regime, expected: float) -> None:
    assert EmaCrossoverStrategy().confidence(side, side.sign * 5.0, regime) == pytest.approx(expected)


def test_builtin_confidence_against_slope_is_floor_and_clamped() -> None:
    strategy = EmaCrossoverStrategy(CrossoverParams(base_confidence=0.95))
    assert EmaCrossoverStrategy().confidence(Side.LONG, -2.0, Regime.CHOPPY) == pytest.approx(0.30)
    assert strategy.confidence(Side.SHORT, -3.0, Regime.TRENDING_DOWN) == 1.0


def test_builtin_zero_atr_window_emits_nothing() -> None:
    strategy = EmaCrossoverStrategy()
    candles = path_candles([100.0 - i for i in range(100)] + [0.0 + 2 * i for i in range(100)], "X")
    flat = {
        "atr": np.zeros(1),
        "atr_pct": np.zeros(1),
        "regime": np.array(["SIDEWAYS"]),
        "volatility": np.array(["NORMAL"]),
    }
    windows = [
        Window(
            symbol="X",
            interval_ms=60_000,
            at=c.close_time,
            time=np.array([c.open_time]),
            **{name: np.array([getattr(c, name)]) for name in ("open", "high", "low", "close", "volume")},
            **flat,
        )
        for c in candles
    ]
    assert all(strategy.on_candle(window) == () for window in windows)
    assert strategy.side("X") is None
