"""Feeds: file parsing (CSV, Binance kline JSON), file replay merged by time, the synthetic market.

Uses real data from ../shared/data (candles/ and binance/rest/futures_market_klines.json).
"""

from __future__ import annotations

import json
from collections import Counter
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from actors.market_data.feeds import CandleFeed, CandleFileError, FileFeed, SyntheticFeed, merge_by_time
from actors.market_data.files import load_candle_file, symbol_from_filename
from actors.market_data.indicators import SymbolIndicators
from actors.market_data.vectorised import return_correlation
from actors.messages import Candle, Regime, VolatilityLevel

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
CANDLES = DATA / "candles"
FTX = CANDLES / "ftx_BTCPERP_1m_20211231-20220201.csv"
KLINES = DATA / "binance" / "rest" / "futures_market_klines.json"
HEADER = "open_time_ms,open,high,low,close,volume\n"
T0 = 1_700_000_000_000  # realistic ms: small numbers would be read as seconds


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("binance_BTCUSDT_1h_20180407-20180428.csv", "BTCUSDT"),
        ("ftx_BTCPERP_1m_20211231-20220201.csv", "BTCPERP"),
        ("XRPUSDT_perp_5m_20211115-20211121.csv", "XRPUSDT"),
        ("LTCBTC_5m_20180110-20180130.csv", "LTCBTC"),
        ("candles_1m.csv", None),
    ],
)
def test_symbol_from_filename_first_upper_case_token(name: str, symbol: str | None) -> None:
    assert symbol_from_filename(name) == symbol


def test_load_candle_file_ftx_seconds_become_ms() -> None:
    loaded = load_candle_file(FTX)
    candles = list(loaded.candles())
    assert len(candles) == 45_031 and loaded.unparseable == 0
    assert loaded.time_in_seconds and loaded.interval_ms == 60_000
    assert candles[0].open_time == 1_640_991_660_000 and candles[0].close == 46377.0


def test_load_candle_file_binance_klines_with_string_values() -> None:
    loaded = load_candle_file(KLINES, symbol="BTCUSDT")
    (first,) = loaded.candles()
    assert (first.open_time, first.open, first.high, first.volume) == (1499040000000, 0.0163479, 0.8, 148976.11427815)
    assert not loaded.time_in_seconds


def test_load_candle_file_json_bad_rows_counted(tmp_path: Path) -> None:
    path = tmp_path / "ETHUSDT_1m.json"
    rows = [[60_000 * i, "10", "11", "9", "10.5", "3"] for i in range(3)]
    path.write_text(json.dumps([*rows, ["x", "1"], "not a row", [1, "a", "b", "c", "d", "e"], [0, True, 1, 1, 1, 1]]))
    loaded = load_candle_file(path)
    assert (len(loaded), loaded.unparseable, loaded.symbol) == (3, 4, "ETHUSDT")


def test_load_candle_file_csv_bad_rows_counted_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "binance_SOLUSDT_1m.csv"
    rows = ["{0},1,2,0.5,1.5,10", "{1},1,2,0.5,1.5", "", "{2},1,abc,0.5,1.5,1", "{3},1,2,0.5,1.5,10"]
    path.write_text(HEADER + "\n".join(r.format(*(T0 + 60_000 * i for i in range(4))) for r in rows) + "\n")
    loaded = load_candle_file(path)
    assert len(loaded) == 2 and loaded.unparseable == 2
    assert [c.open_time for c in loaded.candles()] == [T0, T0 + 180_000] and not loaded.time_in_seconds


def test_load_candle_file_long_csv_bad_row_costs_that_row_only(tmp_path: Path) -> None:
    # Longer than the slice of lines parsed at once, the bad rows in a later slice than the header.
    path = tmp_path / "BTCUSDT_1m.csv"
    lines = [f"{T0 + 60_000 * i},1,2,0.5,1.5,{i}" for i in range(40_000)]
    lines[30_000] = "not,a,row"
    lines[39_999] = f"{T0},1,2,0.5"
    path.write_text(HEADER + "\n".join(lines) + "\n")
    loaded = load_candle_file(path)
    assert (len(loaded), loaded.unparseable, loaded.interval_ms) == (39_998, 2, 60_000)
    candles = list(loaded.candles())
    assert [c.volume for c in candles] == [float(i) for i in range(40_000) if i not in (30_000, 39_999)]
    assert candles[-1].open_time == T0 + 60_000 * 39_998
    assert all(ohlcv.flags.c_contiguous for _, ohlcv in loaded.slices())


def test_load_candle_file_interval_from_distinct_times(tmp_path: Path) -> None:
    path = tmp_path / "AAAUSDT.csv"
    times = [T0, T0, T0, T0 + 60_000, T0 + 60_000, T0 + 60_000, T0 + 360_000]  # repeats are no interval of 0
    path.write_text(HEADER + "".join(f"{t},1,2,0.5,1.5,1\n" for t in times))
    assert load_candle_file(path).interval_ms == 60_000 * 3  # median of 60,000 and 300,000 -> 180,000


def test_load_candle_file_interval_is_median_and_window_filters(tmp_path: Path) -> None:
    path = tmp_path / "AAAUSDT.csv"
    times = [T0 + t for t in (0, 300_000, 600_000, 1_500_000, 1_800_000)]  # 5m candles with one gap
    path.write_text(HEADER + "".join(f"{t},1,2,0.5,1.5,1\n" for t in times))
    loaded = load_candle_file(path, start_ms=T0 + 300_000, end_ms=T0 + 1_800_000)
    assert loaded.interval_ms == 300_000
    assert [c.open_time for c in loaded.candles()] == times[1:4]


def test_load_candle_file_unusable_files_raise_candle_file_error(tmp_path: Path) -> None:
    (tmp_path / "ABCUSDT.json").write_text('{"not": "a list"}')
    (tmp_path / "lower.csv").write_text(HEADER)
    for path in (tmp_path / "ABCUSDT.json", tmp_path / "lower.csv", tmp_path / "XYZUSDT_missing.csv"):
        with pytest.raises(CandleFileError):
            load_candle_file(path)


def test_merge_by_time_groups_equal_open_times_in_order() -> None:
    def c(symbol: str, t: int) -> Candle:
        return Candle(symbol=symbol, open_time=t, open=1, high=1, low=1, close=1, volume=0)

    batches = list(merge_by_time([[c("A", 1), c("A", 3)], [c("B", 1), c("B", 2), c("B", 3)]]))
    assert [[(x.symbol, x.open_time) for x in b] for b in batches] == [
        [("A", 1), ("B", 1)],
        [("B", 2)],
        [("A", 3), ("B", 3)],
    ]


def test_file_feed_merges_symbols_by_time() -> None:
    feed = FileFeed([CANDLES / "ETHBTC_5m_20180110-20180130.csv", CANDLES / "LTCBTC_5m_20180110-20180130.csv"])
    assert isinstance(feed, CandleFeed)
    batches = list(feed.batches())
    times = [b[0].open_time for b in batches]
    assert times == sorted(set(times))
    assert all(len({c.symbol for c in b}) == len(b) and {c.open_time for c in b} == {b[0].open_time} for b in batches)
    assert feed.symbols == ("ETHBTC", "LTCBTC") and feed.interval_ms == 300_000
    per_symbol = Counter(c.symbol for b in batches for c in b)
    assert per_symbol == {s: feed.counters[s].accepted for s in feed.symbols}
    assert per_symbol["ETHBTC"] == 5_760


def test_file_feed_symbol_with_a_gap_is_absent_from_those_steps(tmp_path: Path) -> None:
    btc, eth = tmp_path / "BTCUSDT.csv", tmp_path / "ETHUSDT.csv"
    btc.write_text(HEADER + "".join(f"{T0 + t * 60_000},10,11,9,10,1\n" for t in range(6)))
    eth.write_text(HEADER + "".join(f"{T0 + t * 60_000},10,11,9,10,1\n" for t in (0, 1, 4, 5, 6)))
    batches = list(FileFeed([btc, eth]).batches())
    assert [[(c.symbol, (c.open_time - T0) // 60_000) for c in b] for b in batches] == [
        [("BTCUSDT", 0), ("ETHUSDT", 0)],
        [("BTCUSDT", 1), ("ETHUSDT", 1)],
        [("BTCUSDT", 2)],
        [("BTCUSDT", 3)],
        [("BTCUSDT", 4), ("ETHUSDT", 4)],
        [("BTCUSDT", 5), ("ETHUSDT", 5)],
        [("ETHUSDT", 6)],
    ]


def test_file_feed_aligned_files_batch_as_a_merge_would() -> None:
    feed = FileFeed([CANDLES / "ETHBTC_5m_20180110-20180130.csv", CANDLES / "LTCBTC_5m_20180110-20180130.csv"])
    streams = [[c for b in feed.batches() for c in b if c.symbol == symbol] for symbol in feed.symbols]
    assert list(feed.batches()) == list(merge_by_time(streams))


def test_file_feed_overlapping_files_of_one_symbol_deduplicated(tmp_path: Path) -> None:
    first, second = tmp_path / "part1_BTCUSDT.csv", tmp_path / "part2_BTCUSDT.csv"
    first.write_text(HEADER + "".join(f"{T0 + t * 60_000},10,11,9,10,1\n" for t in range(5)))
    second.write_text(HEADER + "".join(f"{T0 + t * 60_000},10,11,9,10,1\n" for t in range(3, 8)))
    feed = FileFeed([second, first])
    batches = list(feed.batches())
    assert [(b[0].open_time - T0) // 60_000 for b in batches] == list(range(8))
    counters = feed.counters["BTCUSDT"]
    assert (counters.out_of_order, counters.duplicate) == (1, 1)  # minutes 3 and 4 of the second file


def test_file_feed_bad_candles_cleaned_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT.csv"
    rows = ["0,10,11,9,10,1", "1,10,nan,9,10,1", "2,10,9,11,10,1", "1,10,11,9,10,1", "3,-1,11,9,10,1"]
    path.write_text(HEADER + "".join(f"{T0 + 60_000 * int(r[0])}{r[1:]}\n" for r in rows))
    feed = FileFeed([path], start_ms=T0)
    candles = [c for b in feed.batches() for c in b]
    counters = feed.counters["BTCUSDT"]
    assert [c.open_time - T0 for c in candles] == [0, 120_000]
    assert (counters.non_finite, counters.high_below_low, counters.out_of_order, counters.non_positive_price) == (
        1,
        1,
        1,
        1,
    )


def test_file_feed_explicit_symbols_override_names() -> None:
    feed = FileFeed([KLINES], symbols=["BTCUSDT"])
    assert feed.symbols == ("BTCUSDT",) and len(list(feed.batches())) == 1


def test_synthetic_feed_same_seed_same_candles_other_seed_differs() -> None:
    a = list(SyntheticFeed(seed=11, count=300).batches())
    b = list(SyntheticFeed(seed=11, count=300).batches())
    c = list(SyntheticFeed(seed=12, count=300).batches())
    assert a == b and a != c
    assert len(a) == 300 and all(tuple(x.symbol for x in batch) == ("BTCUSDT", "ETHUSDT", "SOLUSDT") for batch in a)


def test_synthetic_feed_infinite_steps_by_interval_with_valid_candles() -> None:
    feed = SyntheticFeed(("AAAUSDT",), seed=1, interval_ms=300_000, start_ms=1_000_000)
    batches = list(islice(feed.batches(), 3000))  # no count: it keeps going
    times = [b[0].open_time for b in batches]
    assert times[0] == 900_000 and set(np.diff(times).tolist()) == {300_000}
    assert all(0 < c.low <= min(c.open, c.close) and max(c.open, c.close) <= c.high for (c,) in batches)


def test_synthetic_feed_regimes_are_recognised_by_indicators() -> None:
    feed = SyntheticFeed(("BTCUSDT",), seed=3, count=20_000)
    state = SymbolIndicators("BTCUSDT")
    seen: Counter[tuple[Regime, Regime]] = Counter()
    levels: Counter[VolatilityLevel] = Counter()
    for (candle,) in feed.batches():
        snapshot = state.update(candle)
        seen[feed.regime_at(candle.open_time), snapshot.regime] += 1
        levels[snapshot.volatility] += 1
    assert {r for _, r in feed.segments(20_000)} == set(Regime)
    for truth in Regime:  # each true regime is what the indicators see most often
        assert max(Regime, key=lambda found: seen[truth, found]) is truth
    assert seen[Regime.TRENDING_UP, Regime.TRENDING_DOWN] < seen[Regime.TRENDING_UP, Regime.TRENDING_UP] / 10
    assert levels[VolatilityLevel.EXTREME] > 0  # the bursts


def test_synthetic_feed_symbols_returns_correlated() -> None:
    batches = list(SyntheticFeed(("AUSDT", "BUSDT"), seed=5, count=2000, correlation=0.8).batches())
    a, b = (np.array([batch[i].close for batch in batches]) for i in range(2))
    assert 0.5 < return_correlation(a, b, 1000) < 0.95
