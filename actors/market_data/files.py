"""Candle files: CSV (`open_time_ms,open,high,low,close,volume`) and Binance kline JSON arrays.

Rules:

* **Symbol** from the file name, unless given: the stem split on `_`, the first token
  that looks like an upper-case symbol (`[A-Z][A-Z0-9]{2,19}`):
  `binance_BTCUSDT_1h_20180407-20180428.csv` -> BTCUSDT, `ftx_BTCPERP_1m_...` -> BTCPERP,
  `XRPUSDT_perp_5m_...` -> XRPUSDT.
* **Time unit**: the header says milliseconds, but some sources (the FTX file) write
  seconds. Times whose median is below 1e11 are seconds (1e11 ms is 1973; 1e11 s is
  the year 5138) and are multiplied by 1000.
* **Interval**: the median of the positive differences of the sorted distinct open
  times, unless given; 60,000 ms when there are fewer than two rows.
* **Rows** that do not parse (too few columns, not a number) are counted in
  `unparseable` and skipped; values that parse but are wrong (NaN, negative, high <
  low, out of order) are left to `CandleCleaner`, which counts them by kind.
* **Window**: `start_ms` inclusive, `end_ms` exclusive, on the open time.
* A missing file, an unknown format, a JSON document that is not a list, or a name
  without a symbol raises `CandleFileError`: that is an operator's mistake, not data.

A file is read twice, a slice of lines at a time, and never held whole: once by `load_candle_file`, which scans it
for what the rules above need of all its rows (the unit, the interval, the rows in the window), and once more by
`CandleFile.slices` as the replay goes. Memory does not grow with the file: the scan keeps counts and the steps
between the times of an ordered file; only a file whose times go back is read a third time, for its times
alone, to sort them. (A JSON document is parsed whole: a Binance REST answer holds at most 1,500 klines.)
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path

import numpy as np

from actors.messages import Candle

_SYMBOL = re.compile(r"^[A-Z][A-Z0-9]{2,19}$")
SECONDS_BELOW = 1e11
DEFAULT_INTERVAL_MS = 60_000
LINES_AT_ONCE = 16_384  # CSV lines parsed per numpy call, and the rows a replay holds per file
_ROWS_AT_ONCE = 4096  # rows turned into Python values per numpy call

Rows = tuple[np.ndarray, np.ndarray]  # open times (n,) int64 ms, values (n, 5) float64 open/high/low/close/volume


class CandleFileError(Exception):
    """A candle file that cannot be used at all."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CandleFile:
    """One symbol's file, scanned: what is known of its rows before they are replayed. `rows` counts those with a
    time in the window; `earliest` is the first of their open times (None without rows)."""

    path: Path
    symbol: str
    interval_ms: int
    rows: int
    earliest: int | None
    unparseable: int
    time_in_seconds: bool
    start_ms: int | None = None
    end_ms: int | None = None
    lines_at_once: int = LINES_AT_ONCE

    def __len__(self) -> int:
        return self.rows

    def slices(self) -> Iterator[Rows]:
        """The rows in the window, in file order (not sorted: the cleaner judges order), a slice at a time."""
        for times, ohlcv, _ in _read(self.path, self.lines_at_once):
            open_time, keep = _open_times(times, self.time_in_seconds, self.start_ms, self.end_ms)
            if len(open_time):
                yield open_time, np.ascontiguousarray(ohlcv if keep.all() else ohlcv[keep])

    def candles(self) -> Iterator[Candle]:
        return chain.from_iterable(
            candles_from_rows(self.symbol, self.interval_ms, open_time, ohlcv) for open_time, ohlcv in self.slices()
        )


def candles_from_rows(symbol: str, interval_ms: int, open_time: np.ndarray, ohlcv: np.ndarray) -> Iterator[Candle]:
    """A Candle per row, made as they are asked for: a long replay holds its rows as arrays, not as objects."""
    for start in range(0, len(open_time), _ROWS_AT_ONCE):
        end = start + _ROWS_AT_ONCE
        # tolist() turns numpy scalars into Python ones in C: far cheaper than per-item conversion.
        for t, (o, h, l, c, v) in zip(open_time[start:end].tolist(), ohlcv[start:end].tolist(), strict=True):
            yield Candle(symbol=symbol, open_time=t, open=o, high=h, low=l, close=c, volume=v, interval_ms=interval_ms)


def symbol_from_filename(path: str | Path) -> str | None:
    for token in Path(path).stem.split("_"):
        if _SYMBOL.match(token):
            return token
    return None


def load_candle_file(
    path: str | Path,
    *,
    symbol: str | None = None,
    interval_ms: int | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    lines_at_once: int = LINES_AT_ONCE,
) -> CandleFile:
    """The file scanned (its rows are read by `CandleFile.slices`)."""
    path = Path(path)
    symbol = symbol or symbol_from_filename(path)
    if not symbol:
        raise CandleFileError(f"{path.name}: no symbol in the file name; give it explicitly")
    # The unit is known only at the end: the steps are gathered in milliseconds and in seconds alike.
    unit, as_ms, as_seconds = _UnitScan(), _StepScan(False, start_ms, end_ms), _StepScan(True, start_ms, end_ms)
    unparseable = 0
    for times, _, bad in _read(path, lines_at_once):
        unparseable += bad
        unit.add(times)
        as_ms.add(times)
        as_seconds.add(times)
    in_seconds = unit.in_seconds
    scan = as_seconds if in_seconds else as_ms
    if interval_ms is None:
        if scan.ordered:
            interval_ms = scan.median_step()
        else:
            every = [_open_times(times, in_seconds, None, None)[0] for times, _, _ in _read(path, lines_at_once)]
            interval_ms = _infer_interval(np.concatenate(every))
    return CandleFile(
        path=path,
        symbol=symbol,
        interval_ms=interval_ms,
        rows=scan.rows,
        earliest=scan.earliest,
        unparseable=unparseable + scan.no_time,  # a row without a time cannot be placed
        time_in_seconds=in_seconds,
        start_ms=start_ms,
        end_ms=end_ms,
        lines_at_once=lines_at_once,
    )


def _open_times(times: np.ndarray, in_seconds: bool, start_ms: int | None, end_ms: int | None) -> Rows:
    """The open times in milliseconds of the rows with a time in the window, and which rows those are."""
    if in_seconds:
        times = times * 1000.0
    keep = np.isfinite(times)
    open_time = np.rint(times[keep]).astype(np.int64)
    window = np.ones(len(open_time), dtype=bool)
    if start_ms is not None:
        window &= open_time >= start_ms
    if end_ms is not None:
        window &= open_time < end_ms
    keep[keep] = window
    return open_time[window], keep


class _UnitScan:
    """Whether the median of the times (NaN left out, as `np.nanmedian` does) is below `SECONDS_BELOW`, from counts
    and the two values either side of the bound: no time is kept."""

    def __init__(self) -> None:
        self.count = self.below = 0
        self.highest_below = -np.inf
        self.lowest_above = np.inf

    def add(self, times: np.ndarray) -> None:
        times = times[~np.isnan(times)]
        below = times < SECONDS_BELOW
        self.count += len(times)
        self.below += int(np.count_nonzero(below))
        if below.any():
            self.highest_below = max(self.highest_below, float(times[below].max()))
        if not below.all():
            self.lowest_above = min(self.lowest_above, float(times[~below].min()))

    @property
    def in_seconds(self) -> bool:
        n, below = self.count, self.below
        if not n:
            return False  # np.nanmedian of nothing is NaN, which is below nothing
        if n % 2 or below != n // 2:  # both middle values on one side of the bound (or the one middle value)
            return below > n // 2
        # n even, the middle pair straddles the bound: their mean decides, computed as np.median computes it.
        return bool(np.mean(np.array([self.highest_below, self.lowest_above])) < SECONDS_BELOW)


class _StepScan:
    """Under one reading of the time unit: the rows in the window, and, while the times do not go back, the positive
    steps between them (the steps of the sorted distinct times; the interval is inferred from every row, the
    window's or not)."""

    def __init__(self, in_seconds: bool, start_ms: int | None, end_ms: int | None) -> None:
        self.in_seconds, self.start_ms, self.end_ms = in_seconds, start_ms, end_ms
        self.rows = self.no_time = 0
        self.earliest: int | None = None
        self.last: int | None = None
        self.ordered = True
        self.steps: Counter[int] = Counter()

    def add(self, times: np.ndarray) -> None:
        every, _ = _open_times(times, self.in_seconds, None, None)
        self.no_time += len(times) - len(every)
        in_window, _ = _open_times(times, self.in_seconds, self.start_ms, self.end_ms)
        if len(in_window):
            self.rows += len(in_window)
            lowest = int(in_window.min())
            self.earliest = lowest if self.earliest is None else min(self.earliest, lowest)
        if self.ordered and len(every):
            steps = np.diff(every, prepend=every[:1] if self.last is None else self.last)
            if (steps < 0).any():
                self.ordered = False
                self.steps.clear()
            else:
                values, counts = np.unique(steps[steps > 0], return_counts=True)
                self.steps.update(dict(zip(values.tolist(), counts.tolist(), strict=True)))
                self.last = int(every[-1])

    def median_step(self) -> int:
        """`_infer_interval` of the times seen, from the count of each step."""
        total = sum(self.steps.values())
        if not total:
            return DEFAULT_INTERVAL_MS
        wanted = [total // 2] if total % 2 else [total // 2 - 1, total // 2]
        middle, seen = [], 0
        for step, count in sorted(self.steps.items()):
            middle += [step for position in wanted if seen <= position < seen + count]
            seen += count
        return int(np.median(np.array(middle, dtype=np.int64)))


def _infer_interval(open_time: np.ndarray) -> int:
    # The positive steps of the sorted times are the steps of the distinct ones (np.unique costs six times the memory).
    diffs = np.diff(np.sort(open_time))
    diffs = diffs[diffs > 0]
    return int(np.median(diffs)) if len(diffs) else DEFAULT_INTERVAL_MS


def _read(path: Path, lines_at_once: int) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """Per slice of rows: their first values (n,), their next five (n, 5), and how many rows did not parse."""
    try:
        with path.open(encoding="utf-8", errors="replace") as file:
            start = file.read(4096)
            file.seek(0)
            if path.suffix.lower() == ".json" or start.lstrip().startswith("["):
                rows, unparseable = _parse_json(path, file.read())
                yield rows[:, 0], rows[:, 1:6], unparseable
                return
            if _numeric_row(file.readline()):
                file.seek(0)  # no header: the first line is a row
            while chunk := list(islice(file, lines_at_once)):
                rows, unparseable = _parse_csv_lines(chunk)
                yield rows[:, 0], rows[:, 1:6], unparseable
    except OSError as exc:
        raise CandleFileError(f"{path}: {exc.strerror or exc}") from exc


def _parse_csv_lines(lines: list[str]) -> tuple[np.ndarray, int]:
    if not any(line.strip() for line in lines):
        return _as_rows([]), 0
    try:
        # The C parser reads 45k rows in about 10 ms; it refuses all the lines on one bad row.
        rows = np.loadtxt(lines, delimiter=",", usecols=range(6), ndmin=2, dtype=float, comments=None)
        return rows.reshape(-1, 6), 0
    except ValueError:
        return _parse_csv_rowwise(lines)


def _numeric_row(line: str) -> bool:
    try:
        float(line.split(",", 1)[0])
        return True
    except ValueError:
        return False


def _parse_csv_rowwise(lines: list[str]) -> tuple[np.ndarray, int]:
    parsed: list[list[float]] = []
    unparseable = 0
    for fields in csv.reader(lines):
        if not fields or all(not f.strip() for f in fields):
            continue
        row = _floats(fields)
        if row is None:
            unparseable += 1
        else:
            parsed.append(row)
    return _as_rows(parsed), unparseable


def _parse_json(path: Path, text: str) -> tuple[np.ndarray, int]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CandleFileError(f"{path.name}: not JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(document, list):
        raise CandleFileError(f"{path.name}: expected a JSON list of klines")
    parsed: list[list[float]] = []
    unparseable = 0
    for item in document:
        row = _floats(item) if isinstance(item, list) else None
        if row is None:
            unparseable += 1
        else:
            parsed.append(row)
    return _as_rows(parsed), unparseable


def _floats(fields: Sequence[object]) -> list[float] | None:
    """The first six values as floats (Binance sends prices as strings), or None."""
    if len(fields) < 6:
        return None
    try:
        return [_float(value) for value in fields[:6]]
    except (TypeError, ValueError):
        return None


def _float(value: object) -> float:
    if isinstance(value, bool):  # float(True) is 1.0: a boolean is no price
        raise TypeError("boolean")
    if isinstance(value, str):
        return float(value.strip())
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(type(value).__name__)


def _as_rows(parsed: list[list[float]]) -> np.ndarray:
    return np.array(parsed, dtype=float).reshape(-1, 6)
