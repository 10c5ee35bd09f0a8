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
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actors.messages import Candle

_SYMBOL = re.compile(r"^[A-Z][A-Z0-9]{2,19}$")
SECONDS_BELOW = 1e11
DEFAULT_INTERVAL_MS = 60_000
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
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CandleFileError(f"{path}: {exc.strerror or exc}") from exc
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        rows, unparseable = _parse_json(path, text)
    else:
        rows, unparseable = _parse_csv(text)
    times = rows[:, 0]
    in_seconds = bool(len(times)) and float(np.nanmedian(times)) < SECONDS_BELOW
    if in_seconds:
        times = times * 1000.0
    finite = np.isfinite(times)
    unparseable += int(np.count_nonzero(~finite))  # a row without a time cannot be placed
    rows, times = rows[finite], times[finite]
    open_time = np.rint(times).astype(np.int64)
    keep = np.ones(len(open_time), dtype=bool)
    if start_ms is not None:
        keep &= open_time >= start_ms
    if end_ms is not None:
        keep &= open_time < end_ms
    interval = interval_ms or _infer_interval(open_time)
    return CandleFile(
        path=path,
        symbol=symbol,
        interval_ms=interval,
        open_time=open_time[keep],
        ohlcv=np.ascontiguousarray(rows[keep, 1:6]),
        unparseable=unparseable,
        time_in_seconds=in_seconds,
    )


def _infer_interval(open_time: np.ndarray) -> int:
    diffs = np.diff(np.unique(open_time))
    return int(np.median(diffs)) if len(diffs) else DEFAULT_INTERVAL_MS


def _parse_csv(text: str) -> tuple[np.ndarray, int]:
    lines = text.splitlines()
    body_start = 0 if lines and _numeric_row(lines[0]) else 1
    if not any(line.strip() for line in lines[body_start:]):
        return _as_rows([]), 0
    try:
        # The C parser reads 45k rows in about 10 ms; it refuses the whole file on one bad row.
        rows = np.loadtxt(
            io.StringIO(text), delimiter=",", skiprows=body_start, usecols=range(6), ndmin=2, dtype=float, comments=None
        )
        return rows.reshape(-1, 6), 0
    except ValueError:
        return _parse_csv_rowwise(lines[body_start:])


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
