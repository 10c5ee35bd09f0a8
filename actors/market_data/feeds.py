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

from actors.market_data.candles import CandleCounters, clean_rows
from actors.market_data.files import LINES_AT_ONCE, CandleFile, CandleFileError, candles_from_rows, load_candle_file
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
    """Replays candle files, read a slice at a time as the batches are asked for (`files.py`): a replay holds a
    slice of rows per symbol, not its files, and makes each Candle when it is delivered.

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
        lines_at_once: int = LINES_AT_ONCE,
    ) -> None:
        if not paths:
            raise CandleFileError("a file feed needs at least one file")
        if symbols is not None and len(symbols) != len(paths):
            raise CandleFileError("give one symbol (or None) per file")
        names = symbols if symbols is not None else [None] * len(paths)
        self.files: tuple[CandleFile, ...] = tuple(
            load_candle_file(
                path,
                symbol=name,
                interval_ms=interval_ms,
                start_ms=start_ms,
                end_ms=end_ms,
                lines_at_once=lines_at_once,
            )
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

    @property
    def earliest(self) -> int | None:
        """The first open time in the files' window, before cleaning (None without rows)."""
        return min((f.earliest for f in self.files if f.earliest is not None), default=None)

    def batches(self) -> Iterator[tuple[Candle, ...]]:
        """Each call replays from the start; `counters` count what the cleaning found in the rows read so far, the
        whole window's once the batches are exhausted."""
        self.counters = {s: CandleCounters() for s in self.symbols}
        streams = []
        for symbol in self.symbols:
            files = sorted((f for f in self.files if f.symbol == symbol), key=lambda f: f.earliest or 0)
            streams.append(self._cleaned(symbol, files))
        return _by_time(streams)

    def _cleaned(self, symbol: str, files: list[CandleFile]) -> Iterator[Candle]:
        """One symbol's files cleaned as one sequence, a slice at a time; each candle keeps its file's interval."""
        last: int | None = None
        for file in files:
            for open_time, ohlcv in file.slices():
                rows = clean_rows(open_time, ohlcv, file.interval_ms, after=last)
                self.counters[symbol] += rows.counters
                last = rows.last_open_time
                yield from candles_from_rows(symbol, file.interval_ms, rows.open_time, rows.ohlcv)


def _by_time(streams: list[Iterator[Candle]]) -> Iterator[tuple[Candle, ...]]:
    """The streams' candles batched by open time: zipped while every symbol has a candle at every step (the usual
    case, and the cheap one), merged from the first step where one has not."""
    while True:
        heads = [next(stream, None) for stream in streams]
        first = heads[0]
        if first is None or any(head is None or head.open_time != first.open_time for head in heads):
            break
        yield tuple(heads)  # type: ignore[arg-type]  # none is None
    yield from merge_by_time(
        chain((head,), stream) if head is not None else () for head, stream in zip(heads, streams, strict=True)
    )
