"""Candle feeds behind one interface: each yields, per time step, the candles of every
symbol that opened at that time, in time order across symbols.

* `SyntheticFeed` (in `synthetic.py`): seeded, regime segments, volatility bursts.
* `FileFeed`: replays CSV / Binance kline JSON files (rules in `files.py`), each
  symbol's rows cleaned (`candles.py`), merged by open time.
* `BinanceKlineFeed` (in `exchange/binance/market_stream.py`): live closed klines after
  a REST warm-up; the service's runner picks it when `feed.kind = "binance"`.

A symbol missing at a time step (a gap in its file) is simply absent from that
step's batch; batches never hold two candles of one symbol.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from actors.market_data.candles import CandleCounters, CleanRows, clean_rows
from actors.market_data.files import CandleFile, CandleFileError, candles_from_rows, load_candle_file
from actors.market_data.synthetic import SyntheticFeed
from actors.messages import Candle
from exchange.market import merge_by_time

__all__ = ["CandleFeed", "CandleFileError", "FileFeed", "SyntheticFeed", "merge_by_time"]


@runtime_checkable
class CandleFeed(Protocol):
    symbols: tuple[str, ...]

    def batches(self) -> Iterator[tuple[Candle, ...]]:
        """Per time step, the candles of that open time, oldest step first."""
        ...


class FileFeed:
    """Replays candle files. Files are parsed and cleaned up front (fast, numpy); candles
    are made lazily, so a long replay does not hold every Candle in memory.

    Several files of one symbol (consecutive months, say) are cleaned as one sequence in
    order of their first open time, which drops the overlap (counted as out_of_order, or
    duplicate for the candle equal to the last one kept).
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        *,
        symbols: Sequence[str | None] | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        interval_ms: int | None = None,
    ) -> None:
        if not paths:
            raise CandleFileError("a file feed needs at least one file")
        if symbols is not None and len(symbols) != len(paths):
            raise CandleFileError("give one symbol (or None) per file")
        names = symbols if symbols is not None else [None] * len(paths)
        self.files: tuple[CandleFile, ...] = tuple(
            load_candle_file(path, symbol=name, interval_ms=interval_ms, start_ms=start_ms, end_ms=end_ms)
            for path, name in zip(paths, names, strict=True)
        )
        self.symbols = tuple(sorted({f.symbol for f in self.files}))
        self.counters: dict[str, CandleCounters] = {s: CandleCounters() for s in self.symbols}

    @property
    def unparseable(self) -> int:
        return sum(f.unparseable for f in self.files)

    @property
    def interval_ms(self) -> int:
        """The shortest interval among the files (the step the batches advance by, at most)."""
        return min(f.interval_ms for f in self.files)

    def batches(self) -> Iterator[tuple[Candle, ...]]:
        """Each call replays from the start; it sets `counters` to what the cleaning of the whole window found."""
        streams, times = [], []
        for symbol in self.symbols:
            files = sorted(
                (f for f in self.files if f.symbol == symbol), key=lambda f: int(f.open_time.min()) if len(f) else 0
            )
            rows, candles = _cleaned(symbol, files)
            self.counters[symbol] = rows.counters
            streams.append(candles)
            times.append(rows.open_time)
        if all(np.array_equal(times[0], other) for other in times[1:]):
            return zip(*streams, strict=True)  # every symbol at every step (the usual case): nothing to merge
        return merge_by_time(streams)


def _cleaned(symbol: str, files: list[CandleFile]) -> tuple[CleanRows, Iterator[Candle]]:
    """One symbol's files cleaned as one sequence; each candle keeps the interval of the file it came from."""
    if len(files) == 1:
        rows = clean_rows(files[0].open_time, files[0].ohlcv, files[0].interval_ms)
    else:
        lengths = [len(f) for f in files]
        rows = clean_rows(
            np.concatenate([f.open_time for f in files]),
            np.concatenate([f.ohlcv for f in files]),
            np.repeat([f.interval_ms for f in files], lengths),
        )
    # The kept rows of each file: those before its end among the concatenated rows.
    ends = np.searchsorted(rows.index, np.cumsum([len(f) for f in files])).tolist()
    starts = [0, *ends[:-1]]
    pieces = (
        candles_from_rows(symbol, f.interval_ms, rows.open_time[start:end], rows.ohlcv[start:end])
        for f, start, end in zip(files, starts, ends, strict=True)
    )
    return rows, chain.from_iterable(pieces)
