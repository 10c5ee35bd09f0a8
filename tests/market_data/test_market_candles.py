"""Candle cleaning: every kind of bad candle is dropped or repaired, and counted; nothing raises."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.market_data.candles import CandleCleaner, CandleCounters, MarketCleaner, clean_rows
from actors.messages import Candle


def candle(
    t: int = 0,
    o: float = 100.0,
    h: float = 101.0,
    l: float = 99.0,
    c: float = 100.5,
    v: float = 1.0,
    symbol: str = "BTCUSDT",
) -> Candle:
    return Candle(symbol=symbol, open_time=t * 60_000, open=o, high=h, low=l, close=c, volume=v)


def test_candle_cleaner_good_candle_is_returned_unchanged() -> None:
    cleaner = CandleCleaner("BTCUSDT")
    good = candle()
    assert cleaner.accept(good) is good
    assert cleaner.counters.accepted == 1 and cleaner.counters.dropped == 0


@pytest.mark.parametrize(
    ("bad", "kind"),
    [
        (candle(c=math.nan), "non_finite"),
        (candle(h=math.inf), "non_finite"),
        (candle(v=math.nan), "non_finite"),
        (candle(l=0.0), "non_positive_price"),
        (candle(o=-1.0), "non_positive_price"),
        (candle(v=-5.0), "negative_volume"),
        (candle(symbol="ETHUSDT"), "wrong_symbol"),
    ],
)
def test_candle_cleaner_bad_values_dropped_and_counted(bad: Candle, kind: str) -> None:
    cleaner = CandleCleaner("BTCUSDT")
    assert cleaner.accept(bad) is None
    assert cleaner.counters.as_dict()[kind] == 1
    assert cleaner.counters.dropped == 1 and cleaner.counters.accepted == 0


def test_candle_cleaner_duplicate_time_keeps_first() -> None:
    cleaner = CandleCleaner()
    first = cleaner.accept(candle(t=1, c=100.0))
    assert cleaner.accept(candle(t=1, c=100.9)) is None
    assert first is not None and first.close == 100.0
    assert cleaner.counters.duplicate == 1


def test_candle_cleaner_out_of_order_dropped() -> None:
    cleaner = CandleCleaner()
    cleaner.accept(candle(t=5))
    assert cleaner.accept(candle(t=4)) is None
    assert cleaner.counters.out_of_order == 1
    assert cleaner.accept(candle(t=6)) is not None  # the sequence carries on from the last good one


def test_candle_cleaner_high_below_low_swapped() -> None:
    cleaner = CandleCleaner()
    fixed = cleaner.accept(candle(h=99.0, l=101.0))
    assert fixed is not None and (fixed.high, fixed.low) == (101.0, 99.0)
    assert cleaner.counters.high_below_low == 1 and cleaner.counters.repaired == 1


def test_candle_cleaner_close_outside_range_widens_range() -> None:
    cleaner = CandleCleaner()
    fixed = cleaner.accept(candle(o=98.0, c=103.0))
    assert fixed is not None and (fixed.high, fixed.low) == (103.0, 98.0)
    assert (fixed.open, fixed.close) == (98.0, 103.0)  # traded prices are kept
    assert cleaner.counters.open_close_outside == 1


def test_candle_cleaner_gap_accepted_and_missing_counted() -> None:
    cleaner = CandleCleaner()
    cleaner.accept(candle(t=0))
    assert cleaner.accept(candle(t=4)) is not None
    assert (cleaner.counters.gaps, cleaner.counters.missing_candles) == (1, 3)


def test_candle_counters_add_sums_each_kind() -> None:
    total = CandleCounters(accepted=2, gaps=1) + CandleCounters(accepted=3, duplicate=4)
    assert (total.accepted, total.gaps, total.duplicate, total.dropped) == (5, 1, 4, 4)


def test_market_cleaner_keeps_one_sequence_per_symbol() -> None:
    cleaner = MarketCleaner()
    batch = (candle(t=1), candle(t=1, symbol="ETHUSDT"))
    assert cleaner.accept_batch(batch) == batch
    assert cleaner.accept_batch((candle(t=1), candle(t=2, symbol="ETHUSDT"))) == (candle(t=2, symbol="ETHUSDT"),)
    assert cleaner.counters.duplicate == 1 and cleaner.counters.accepted == 3


prices = st.floats(allow_nan=True, allow_infinity=True, width=32)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), prices, prices, prices, prices, prices), max_size=40))
def test_candle_cleaner_any_input_yields_valid_increasing_candles(rows: list[tuple]) -> None:
    cleaner = CandleCleaner("BTCUSDT")
    accepted = []
    for t, o, h, l, c, v in rows:
        out = cleaner.accept(candle(t=t, o=o, h=h, l=l, c=c, v=v))
        if out is not None:
            accepted.append(out)
    for out in accepted:
        assert 0 < out.low <= min(out.open, out.close) <= max(out.open, out.close) <= out.high
        assert math.isfinite(out.high) and out.volume >= 0
    times = [out.open_time for out in accepted]
    assert times == sorted(set(times))
    counters = cleaner.counters
    assert counters.accepted == len(accepted) and counters.accepted + counters.dropped == len(rows)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 50), prices, prices, prices, prices, prices, st.sampled_from([1, 2])), max_size=60
    )
)
def test_clean_rows_keeps_and_counts_what_the_cleaner_does_row_by_row(rows: list[tuple]) -> None:
    # Intervals of one or two minutes: a symbol's rows may come from files of different intervals.
    cleaner = CandleCleaner("BTCUSDT")
    expected = []
    for t, o, h, l, c, v, minutes in rows:
        row = Candle(
            symbol="BTCUSDT",
            open_time=t * 60_000,
            open=o,
            high=h,
            low=l,
            close=c,
            volume=v,
            interval_ms=minutes * 60_000,
        )
        out = cleaner.accept(row)
        if out is not None:
            expected.append((out.open_time, out.open, out.high, out.low, out.close, out.volume))
    open_time = np.array([r[0] * 60_000 for r in rows], dtype=np.int64)
    ohlcv = np.array([r[1:6] for r in rows], dtype=float).reshape(-1, 5)
    cleaned = clean_rows(open_time, ohlcv, np.array([r[6] * 60_000 for r in rows], dtype=np.int64))
    got = [(t, *values) for t, values in zip(cleaned.open_time.tolist(), cleaned.ohlcv.tolist(), strict=True)]
    assert got == expected
    assert cleaned.open_time.tolist() == open_time[cleaned.index].tolist()
    assert cleaned.counters == cleaner.counters


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 50), prices, prices, prices, prices, prices, st.sampled_from([1, 2])), max_size=60
    ),
    st.lists(st.integers(1, 8), min_size=1, max_size=10),
)
def test_clean_rows_in_slices_keeps_and_counts_what_it_does_on_the_whole(rows: list[tuple], sizes: list[int]) -> None:
    # Duplicates, rows out of order and gaps that straddle a slice's edge are judged against the rows before it.
    open_time = np.array([r[0] * 60_000 for r in rows], dtype=np.int64)
    ohlcv = np.array([r[1:6] for r in rows], dtype=float).reshape(-1, 5)
    intervals = np.array([r[6] * 60_000 for r in rows], dtype=np.int64)
    whole = clean_rows(open_time, ohlcv, intervals)
    got_times, got_values, counters, last = [], [], CandleCounters(), None
    edges = np.cumsum([0, *(sizes * len(rows))]).tolist()  # some slices past the end: empty
    for start, end in zip(edges, edges[1:], strict=False):
        part = clean_rows(open_time[start:end], ohlcv[start:end], intervals[start:end], after=last)
        got_times += part.open_time.tolist()
        got_values += part.ohlcv.tolist()
        assert (part.index + start).tolist() == [i for i in whole.index.tolist() if start <= i < end]
        counters, last = counters + part.counters, part.last_open_time
        if start >= len(rows):
            break
    assert got_times == whole.open_time.tolist() and got_values == whole.ohlcv.tolist()
    assert counters == whole.counters and last == whole.last_open_time


def test_clean_rows_clean_file_is_not_copied() -> None:
    open_time = np.arange(5, dtype=np.int64) * 60_000
    ohlcv = np.tile([100.0, 101.0, 99.0, 100.5, 1.0], (5, 1))
    cleaned = clean_rows(open_time, ohlcv, 60_000)
    assert cleaned.ohlcv is ohlcv and cleaned.open_time is open_time
    assert cleaned.counters == CandleCounters(accepted=5)
