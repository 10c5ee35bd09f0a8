"""Candle feeds behind one interface: each yields, per time step, the candles of every
symbol that opened at that time, in time order across symbols.

* `SyntheticFeed` (in `synthetic.py`): seeded, regime segments, volatility bursts.
* `FileFeed`: replays CSV / Binance kline JSON files (rules in `files.py`), each
  symbol's rows through a `CandleCleaner`, merged by open time.
* `BinanceKlineFeed` (in `exchange/binance/market_stream.py`): live closed klines after
  a REST warm-up; the service's runner picks it when `feed.kind = "binance"`.

A symbol missing at a time step (a gap in its file) is simply absent from that
step's batch; batches never hold two candles of one symbol.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from actors.market_data.candles import CandleCleaner, CandleCounters
from actors.market_data.files import CandleFile, CandleFileError, load_candle_file
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
    """Replays candle files. Files are parsed up front (fast, numpy); candles are made
    and cleaned lazily, so a long replay does not hold every Candle in memory.

    Several files of one symbol (consecutive months, say) are read in order of their
    first open time through one cleaner, which drops the overlap (counted as
    out_of_order, or duplicate for the candle equal to the last one kept).
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
        """Each call replays from the start and resets `counters`."""
        streams = []
        for symbol in self.symbols:
            cleaner = CandleCleaner(symbol)
            self.counters[symbol] = cleaner.counters
            files = sorted(
                (f for f in self.files if f.symbol == symbol), key=lambda f: int(f.open_time.min()) if len(f) else 0
            )
            streams.append(_cleaned(files, cleaner))
        return merge_by_time(streams)


def _cleaned(files: list[CandleFile], cleaner: CandleCleaner) -> Iterator[Candle]:
    accept = cleaner.accept
    for file in files:
        for candle in file.candles():
            clean = accept(candle)
            if clean is not None:
                yield clean
