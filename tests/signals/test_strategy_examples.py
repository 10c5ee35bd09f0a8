"""The example strategies: the SMA 10/50 crossover replayed through the real actors over synthetic candles crosses
exactly where an independent numpy computation of the two averages crosses; the breakout signals once per breakout
and not in a choppy market; the README's example is the shipped file, and loads by path."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from actors.messages import Candle, Side
from actors.signals.examples import sma_crossover
from actors.signals.examples.breakout import Breakout
from actors.signals.loading import load_strategies
from config import Settings
from persistence.db import open_read_only
from persistence.strategy_records import figures_by_strategy
from service.replay import run_replay
from tests.conftest import SHARED_DATA
from tests.signals.strategy_harness import loaded, run

README = Path(__file__).resolve().parents[2] / "README.md"
CANDLES = 3_000  # a prefix of the synthetic year is enough: dozens of crossings per symbol


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    spec = importlib.util.spec_from_file_location("gen_synthetic", SHARED_DATA / "gen_synthetic.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.generate(tmp_path_factory.mktemp("synthetic"), CANDLES))


def numpy_crosses(path: Path, fast: int = 10, slow: int = 50) -> list[int]:
    """Open times of the candles whose close puts SMA(fast) above SMA(slow) when the candle before did not."""
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    times, close = data[:, 0].astype(np.int64), data[:, 4]
    sma_fast = np.convolve(close, np.ones(fast) / fast, mode="valid")[slow - fast :]  # both end at candle slow-1..
    sma_slow = np.convolve(close, np.ones(slow) / slow, mode="valid")
    above = sma_fast > sma_slow
    crossed = np.flatnonzero(above[1:] & ~above[:-1]) + 1  # index into the averages
    return (times[crossed + slow - 1]).tolist()


def test_sma_example_replayed_crosses_where_numpy_crosses(synthetic: list[Path], tmp_path: Path) -> None:
    result = run_replay(synthetic, settings=Settings(), out_dir=tmp_path, strategies=["sma_crossover"])
    engine = open_read_only(result.db_url)
    try:
        with engine.connect() as connection:
            ids = [row[0] for row in connection.exec_driver_sql("SELECT DISTINCT signal_id FROM signal_decisions")]
            [figures] = figures_by_strategy(connection)
    finally:
        engine.dispose()
    for path in synthetic:
        symbol = path.name.split("_")[0]
        found = sorted(int(i.rsplit("-", 1)[1]) for i in ids if i.startswith(f"strategy-sma_crossover-{symbol}-"))
        expected = numpy_crosses(path)
        assert len(expected) >= 20
        assert found == expected
    assert figures.source == "sma_crossover" and figures.signals == len(ids) and figures.closed > 0


def test_sma_example_params_checked_and_long_only() -> None:
    closes = [100.0 + 5 * np.sin(i / 15) for i in range(400)]
    candles = [
        Candle(symbol="BTCUSDT", open_time=i * 60_000, open=c, high=c + 0.1, low=c - 0.1, close=c, volume=1.0)
        for i, c in enumerate(closes)
    ]
    signals, faults, _ = run(candles, loaded(sma_crossover.SmaCrossover, ["BTCUSDT"], fast=5, slow=20))
    assert faults == [] and len(signals) >= 3 and {s.side for s in signals} == {Side.LONG}
    assert all(s.note.startswith("SMA5 crossed above SMA20") for s in signals)


def breakout_candles(closes: list[float]) -> list[Candle]:
    return [
        Candle(symbol="BTCUSDT", open_time=i * 60_000, open=c, high=c + 0.3, low=c - 0.3, close=c, volume=1.0)
        for i, c in enumerate(closes)
    ]


def test_breakout_example_signals_once_per_breakout_each_way() -> None:
    rng = np.random.default_rng(5)
    quiet = (100.0 + rng.normal(0, 0.1, 80)).tolist()
    up = [quiet[-1] + 2.0 + 0.5 * i for i in range(10)]  # breaks out and keeps going: one signal
    back = [up[-1] + rng.normal(0, 0.1) for _ in range(60)]
    down = [back[-1] - 3.0 - 0.5 * i for i in range(10)]
    signals, faults, _ = run(breakout_candles(quiet + up + back + down), loaded(Breakout, ["BTCUSDT"]))
    assert faults == []
    assert [(s.side, s.at // 60_000) for s in signals] == [(Side.LONG, 81), (Side.SHORT, 151)]
    assert all(0.45 <= s.confidence <= 0.75 for s in signals)


def test_breakout_example_silent_in_a_choppy_market() -> None:
    # Wide overlapping candles going nowhere: the choppiness index is high, so breakouts of the range are ignored.
    closes = [100.0 + (3.0 if i % 2 else -3.0) + 0.01 * i for i in range(300)]
    candles = [
        Candle(symbol="BTCUSDT", open_time=i * 60_000, open=c, high=c + 3.5, low=c - 3.5, close=c, volume=1.0)
        for i, c in enumerate(closes)
    ]
    signals, faults, _ = run(candles, loaded(Breakout, ["BTCUSDT"], margin_atr=0.0))
    assert faults == [] and signals == []


def test_readme_example_is_the_shipped_file_and_loads_by_path(tmp_path: Path) -> None:
    text = README.read_text()
    section = text[text.index("## Write your own strategy") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None
    shipped = Path(sma_crossover.__file__)
    assert match.group(1) == shipped.read_text()
    copy = tmp_path / "my_strategy.py"
    shutil.copyfile(shipped, copy)
    [item] = load_strategies(Settings(signals={"builtin": False, "strategies": [f"{copy}:SmaCrossover"]}))
    assert item.name == "sma_crossover" and item.cls is not sma_crossover.SmaCrossover  # its own module
    assert item.params.model_dump() == {"fast": 10, "slow": 50, "confidence": 0.75}
