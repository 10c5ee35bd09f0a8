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
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TextIO

import numpy as np

from actors.messages import Candle

_SYMBOL = re.compile(r"^[A-Z][A-Z0-9]{2,19}$")
SECONDS_BELOW = 1e11
DEFAULT_INTERVAL_MS = 60_000
_LINES_AT_ONCE = 16_384  # CSV lines parsed per numpy call
_ROWS_AT_ONCE = 4096  # rows turned into Python values per numpy call


class CandleFileError(Exception):
    """A candle file that cannot be used at all."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CandleFile:
    """One symbol's parsed rows, in file order (not sorted: the cleaner judges order)."""

    path: Path
    symbol: str
    interval_ms: int
    open_time: np.ndarray  # int64 milliseconds
    ohlcv: np.ndarray  # float64, shape (n, 5)
    unparseable: int
    time_in_seconds: bool

    def __len__(self) -> int:
        return len(self.open_time)

    def candles(self) -> Iterator[Candle]:
        return candles_from_rows(self.symbol, self.interval_ms, self.open_time, self.ohlcv)


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
) -> CandleFile:
    path = Path(path)
    symbol = symbol or symbol_from_filename(path)
    if not symbol:
        raise CandleFileError(f"{path.name}: no symbol in the file name; give it explicitly")
    try:
        with path.open(encoding="utf-8", errors="replace") as file:
            times, ohlcv, unparseable = _parse(path, file)
    except OSError as exc:
        raise CandleFileError(f"{path}: {exc.strerror or exc}") from exc
    in_seconds = bool(len(times)) and float(np.nanmedian(times)) < SECONDS_BELOW
    if in_seconds:
        times = times * 1000.0
    finite = np.isfinite(times)
    unparseable += int(np.count_nonzero(~finite))  # a row without a time cannot be placed
    open_time = np.rint(times[finite]).astype(np.int64)
    window = np.ones(len(open_time), dtype=bool)
    if start_ms is not None:
        window &= open_time >= start_ms
    if end_ms is not None:
        window &= open_time < end_ms
    interval = interval_ms or _infer_interval(open_time)
    keep = finite.copy()
    keep[finite] = window
    return CandleFile(
        path=path,
        symbol=symbol,
        interval_ms=interval,
        open_time=open_time[window],
        ohlcv=np.ascontiguousarray(ohlcv if keep.all() else ohlcv[keep]),  # no copy of a whole clean file
        unparseable=unparseable,
        time_in_seconds=in_seconds,
    )


def _infer_interval(open_time: np.ndarray) -> int:
    # The positive steps of the sorted times are the steps of the distinct ones (np.unique costs six times the memory).
    diffs = np.diff(np.sort(open_time))
    diffs = diffs[diffs > 0]
    return int(np.median(diffs)) if len(diffs) else DEFAULT_INTERVAL_MS


def _parse(path: Path, file: TextIO) -> tuple[np.ndarray, np.ndarray, int]:
    """The rows' first values (n,), their next five (n, 5) and the count of rows that did not parse."""
    start = file.read(4096)
    file.seek(0)
    if path.suffix.lower() == ".json" or start.lstrip().startswith("["):
        rows, unparseable = _parse_json(path, file.read())
    else:
        return _parse_csv(file)
    return rows[:, 0], rows[:, 1:6], unparseable


def _parse_csv(file: TextIO) -> tuple[np.ndarray, np.ndarray, int]:
    """A CSV file read a slice of lines at a time into arrays sized once: its text, its list of lines or a growing
    array would each take more memory than the values (a year of minutes is 30 MB of text, 25 MB of values)."""
    lines = sum(1 for _ in file)
    file.seek(0)
    header = 0 if _numeric_row(file.readline()) else 1
    file.seek(0)
    for _ in range(header):
        file.readline()
    times, ohlcv = np.empty(lines - header), np.empty((lines - header, 5))
    filled = unparseable = 0
    while chunk := list(islice(file, _LINES_AT_ONCE)):
        rows, bad = _parse_csv_lines(chunk)
        times[filled : filled + len(rows)] = rows[:, 0]
        ohlcv[filled : filled + len(rows)] = rows[:, 1:6]
        filled, unparseable = filled + len(rows), unparseable + bad
    return times[:filled], ohlcv[:filled], unparseable


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
