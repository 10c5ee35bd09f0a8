"""The warm-up at start is long enough for a full correlation lookback."""

from __future__ import annotations

from config import Settings
from service.runner import WARMUP_CANDLES, warmup_candles


def test_warmup_default_lookback_fits_the_indicator_warmup() -> None:
    assert warmup_candles(Settings()) == WARMUP_CANDLES > Settings().risk.correlation_lookback


def test_warmup_longer_lookback_loads_one_return_more_than_it() -> None:
    assert warmup_candles(Settings(risk={"correlation_lookback": 1000})) == 1001  # type: ignore[arg-type]
