"""Messages built by hand-written constructors behave as the dataclasses they are."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from actors.messages import MarketSnapshot, Regime, VolatilityLevel


def test_market_snapshot_init_sets_every_field_from_its_own_argument() -> None:
    names = [f.name for f in dataclasses.fields(MarketSnapshot)]
    assert list(inspect.signature(MarketSnapshot).parameters) == names  # a new field needs its argument
    values = {
        "symbol": "BTCUSDT",
        "at": 7,
        "price": 1.5,
        "atr": 2.5,
        "atr_pct": 3.5,
        "volatility": VolatilityLevel.HIGH,
        "regime": Regime.CHOPPY,
    }
    snapshot = MarketSnapshot(**values)  # type: ignore[arg-type]
    assert dataclasses.asdict(snapshot) == values
    assert snapshot == dataclasses.replace(snapshot) and hash(snapshot) == hash(dataclasses.replace(snapshot))
    assert snapshot != dataclasses.replace(snapshot, price=1.25)


def test_market_snapshot_is_frozen() -> None:
    snapshot = MarketSnapshot(
        symbol="BTCUSDT", at=1, price=1.0, atr=1.0, atr_pct=1.0, volatility=VolatilityLevel.LOW, regime=Regime.SIDEWAYS
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.price = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        MarketSnapshot("BTCUSDT", 1, 1.0, 1.0, 1.0, VolatilityLevel.LOW, Regime.SIDEWAYS)  # type: ignore[call-arg]
