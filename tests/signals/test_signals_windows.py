"""A symbol's history and the windows it hands out: each column as the candles and snapshots gave it, written when a
strategy first reads it, and a window kept by a strategy unchanged by later candles, read early or late."""

from __future__ import annotations

import numpy as np
import pytest

from actors.market_data.indicators import SymbolIndicators
from actors.messages import Candle, MarketSnapshot
from actors.signals.strategy import Window
from actors.signals.windows import SPARE, SymbolHistory


def rows(count: int) -> list[tuple[Candle, MarketSnapshot]]:
    closes = 100.0 + np.cumsum(np.random.default_rng(5).normal(0, 0.5, count))
    indicators = SymbolIndicators("BTCUSDT")
    out = []
    for i, c in enumerate(closes.tolist()):
        candle = Candle(symbol="BTCUSDT", open_time=i * 60_000, open=c, high=c + 0.4, low=c - 0.3, close=c, volume=i)
        out.append((candle, indicators.update(candle)))
    return out


def expected(part: list[tuple[Candle, MarketSnapshot]]) -> dict[str, list[object]]:
    return {
        "time": [c.open_time for c, _ in part],
        "open": [c.open for c, _ in part],
        "high": [c.high for c, _ in part],
        "low": [c.low for c, _ in part],
        "close": [c.close for c, _ in part],
        "volume": [c.volume for c, _ in part],
        "atr": [s.atr for _, s in part],
        "atr_pct": [s.atr_pct for _, s in part],
        "regime": [str(s.regime) for _, s in part],
        "volatility": [str(s.volatility) for _, s in part],
    }


def test_history_window_columns_are_the_candles_and_snapshots_read_only() -> None:
    given = rows(80)
    history = SymbolHistory("BTCUSDT", 5)
    for candle, snapshot in given:
        history.push(candle, snapshot)
    window = history.window(4)
    assert window is not None and len(window) == 4
    assert (window.symbol, window.interval_ms, window.at) == ("BTCUSDT", 60_000, given[-1][0].close_time)
    for name, values in expected(given[-4:]).items():
        column = getattr(window, name)
        assert column.tolist() == values, name
        assert not column.flags.writeable
    assert window.time.dtype == np.int64 and window.close.dtype == np.float64 and window.regime.dtype.kind == "U"
    assert {*window.regime.tolist()} - {"SIDEWAYS"}  # the labels past the warm-up, not only the first one


def test_history_kept_windows_keep_their_rows_when_read_late_or_after_new_arrays() -> None:
    capacity = 3
    given = rows(3 * (SPARE + capacity))  # the rows move to new arrays twice
    history = SymbolHistory("BTCUSDT", capacity)
    kept: list[tuple[int, Window]] = []
    for i, (candle, snapshot) in enumerate(given):
        history.push(candle, snapshot)
        window = history.window(capacity)
        if window is None:
            assert i < capacity - 1
            continue
        if i % 7 == 0:
            window.close  # noqa: B018  # read now: the close column is written up to this candle
        kept.append((i, window))
    assert len(kept) == len(given) - capacity + 1
    for i, window in kept:  # every column read now, long after the candle: the other columns are written late
        assert {name: getattr(window, name).tolist() for name in Window.COLUMNS} == expected(
            given[i + 1 - capacity : i + 1]
        ), i


def test_history_window_none_until_enough_candles_and_never_over_capacity() -> None:
    history = SymbolHistory("BTCUSDT", 3)
    given = rows(4)
    history.push(*given[0])
    history.push(*given[1])
    assert history.window(3) is None and history.window(2) is not None
    history.push(*given[2])
    history.push(*given[3])
    assert history.window(4) is None
    window = history.window(3)
    assert window is not None and window.close.tolist() == [c.close for c, _ in given[1:]]


def test_window_made_by_keyword_hands_out_its_arrays_and_is_read_only() -> None:
    arrays = {name: np.arange(3.0) for name in Window.COLUMNS}
    window = Window(symbol="X", interval_ms=60_000, at=180_000, **arrays)
    assert len(window) == 3 and window.symbol == "X" and window.at == 180_000
    assert all(getattr(window, name) is arrays[name] for name in Window.COLUMNS)
    with pytest.raises(AttributeError):
        window.close = np.zeros(3)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        window.at = 0  # type: ignore[misc]


def test_window_last_is_the_last_value_of_each_column_with_its_python_type() -> None:
    """`last(column)` gives what `column[-1]` holds, read from the history without its array, and from a window
    made by keyword alike; a column it does not have is named in the error."""
    given = rows(80)
    history = SymbolHistory("BTCUSDT", 5)
    for candle, snapshot in given:
        history.push(candle, snapshot)
    from_history = history.window(4)
    assert from_history is not None
    arrays = {name: np.asarray(values) for name, values in expected(given[-4:]).items()}
    by_keyword = Window(symbol="BTCUSDT", interval_ms=60_000, at=0, **arrays)
    for window in (from_history, by_keyword):
        for name in Window.COLUMNS:
            value = window.last(name)
            assert value == expected(given[-1:])[name][0], name
            assert type(value) is type(getattr(window, name)[-1].item()), name
    with pytest.raises(ValueError, match=r"no column 'closes'.*close"):
        from_history.last("closes")
