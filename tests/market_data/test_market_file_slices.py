"""Candle files read a slice of lines at a time: the unit, the interval, the rows, the candles and the counts of bad
ones are those of the whole file, whatever the slice's size and wherever a duplicate, a row out of order, a gap or
a bad line falls."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.market_data.candles import CandleCleaner
from actors.market_data.feeds import FileFeed
from actors.market_data.files import load_candle_file
from actors.messages import Candle

HEADER = "open_time_ms,open,high,low,close,volume\n"
T0 = 1_700_000_000_000
MINUTE = 60_000

Line = tuple[str, tuple[float, ...] | None]  # the text, and the values it parses to (None: it does not)

price = st.sampled_from(["10", "11", "9", "10.5", "0", "-1", "nan", "inf"])
volume = st.sampled_from(["1", "0", "-2", "nan"])


def row(minute: int, values: tuple[str, ...], *, in_seconds: bool = False) -> Line:
    time = T0 // 1000 + minute * 60 if in_seconds else T0 + minute * MINUTE
    return ",".join([str(time), *values]), (float(time), *(float(v) for v in values))


minutes = st.integers(0, 40)
good = ("10", "11", "9", "10.5", "1")
line = st.one_of(
    minutes.map(lambda m: row(m, good)),
    st.builds(lambda m, o, h, l, c, v: row(m, (o, h, l, c, v)), minutes, price, price, price, price, volume),
    minutes.map(lambda m: row(m, good, in_seconds=True)),  # enough of them and the file is read as seconds
    st.sampled_from([("not,a,row", None), ("1,2,3", None), ("nan,10,11,9,10.5,1", (np.nan, 10, 11, 9, 10.5, 1))]),
)


def expected(lines: list[Line], start_ms: int | None, end_ms: int | None) -> dict[str, object]:
    """The rules of files.py over the whole file at once, and the cleaner row by row."""
    rows = [values for _, values in lines if values is not None]
    times = np.array([r[0] for r in rows], dtype=float)
    in_seconds = bool(len(times)) and float(np.nanmedian(times)) < 1e11
    times = times * 1000.0 if in_seconds else times
    finite = np.isfinite(times)
    open_time = np.rint(times[finite]).astype(np.int64)
    steps = np.diff(np.sort(open_time))
    steps = steps[steps > 0]
    interval = int(np.median(steps)) if len(steps) else 60_000
    cleaner = CandleCleaner("AAAUSDT")
    candles, in_window = [], []
    for values, at in zip([r for r, ok in zip(rows, finite, strict=True) if ok], open_time.tolist(), strict=True):
        if (start_ms is not None and at < start_ms) or (end_ms is not None and at >= end_ms):
            continue
        in_window.append(at)
        o, h, l, c, v = values[1:]
        kept = cleaner.accept(
            Candle(symbol="AAAUSDT", open_time=at, open=o, high=h, low=l, close=c, volume=v, interval_ms=interval)
        )
        if kept is not None:
            candles.append(kept)
    return {
        "in_seconds": in_seconds,
        "interval": interval,
        "rows": len(in_window),
        "earliest": min(in_window, default=None),
        "unparseable": len(lines) - len(rows) + int(np.count_nonzero(~finite)),
        "candles": candles,
        "counters": cleaner.counters,
    }


@pytest.mark.filterwarnings("ignore:All-NaN slice")  # the reference's np.nanmedian of a file without a time
@settings(max_examples=150, deadline=None)
@given(
    st.lists(line, max_size=50),
    st.integers(1, 9),
    st.one_of(st.none(), st.integers(0, 40)),
    st.one_of(st.none(), st.integers(0, 40)),
)
def test_file_in_slices_reads_and_cleans_as_the_whole_file(
    lines: list[Line], lines_at_once: int, start: int | None, end: int | None
) -> None:
    start_ms = None if start is None else T0 + start * MINUTE
    end_ms = None if end is None else T0 + end * MINUTE
    want = expected(lines, start_ms, end_ms)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "AAAUSDT_1m.csv"
        path.write_text(HEADER + "".join(f"{text}\n" for text, _ in lines))
        loaded = load_candle_file(path, start_ms=start_ms, end_ms=end_ms, lines_at_once=lines_at_once)
        feed = FileFeed([path], start_ms=start_ms, end_ms=end_ms, lines_at_once=lines_at_once)
        candles = [c for batch in feed.batches() for c in batch]
    got = {
        "in_seconds": loaded.time_in_seconds,
        "interval": loaded.interval_ms,
        "rows": len(loaded),
        "earliest": loaded.earliest,
        "unparseable": loaded.unparseable,
        "candles": candles,
        "counters": feed.counters["AAAUSDT"],
    }
    assert got == want
    # Cleaned once is clean: cleaning the feed's candles again changes, drops and repairs none, which is why the
    # market-data actor does not clean a FileFeed's batches again (`CandleBatch.cleaned`).
    again = CandleCleaner("AAAUSDT")
    assert [again.accept(candle) for candle in candles] == candles
    assert again.counters.dropped == again.counters.repaired == 0
