"""Candle, built by a hand-written constructor, behaves as the frozen dataclass it is."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest

from exchange.market import Candle


def test_candle_init_sets_every_field_from_its_own_argument() -> None:
    names = [f.name for f in dataclasses.fields(Candle)]
    assert list(inspect.signature(Candle).parameters) == names  # a new field needs its argument
    values = {
        "symbol": "BTCUSDT",
        "open_time": 7,
        "open": 1.5,
        "high": 2.5,
        "low": 0.5,
        "close": 2.0,
        "volume": 3.5,
        "interval_ms": 300_000,
    }
    candle = Candle(**values)  # type: ignore[arg-type]
    assert dataclasses.asdict(candle) == values
    assert candle == dataclasses.replace(candle) and hash(candle) == hash(dataclasses.replace(candle))
    assert candle != dataclasses.replace(candle, low=0.25)
    assert pickle.loads(pickle.dumps(candle)) == candle


def test_candle_interval_defaults_to_a_minute_and_the_candle_is_frozen() -> None:
    candle = Candle(symbol="BTCUSDT", open_time=0, open=1.0, high=1.0, low=1.0, close=1.0, volume=0.0)
    assert candle.interval_ms == 60_000 and candle.close_time == 60_000
    with pytest.raises(dataclasses.FrozenInstanceError):
        candle.high = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        Candle("BTCUSDT", 0, 1.0, 1.0, 1.0, 1.0, 0.0)  # type: ignore[call-arg]
