"""The `cost-metrics` row: its shape, rounding and reading back, and what it refuses."""

from __future__ import annotations

import pytest

from persistence.cost_metrics import CostMetrics, SymbolCosts, decode, encode

METRICS = CostMetrics(
    at=1_700_000_000_000,
    max_spread_bps=15.0,
    max_slippage_bps=20.0,
    symbols=(
        SymbolCosts(symbol="BTCUSDT", spread_bps=0.024999, slippage_bps=2.0049, slippage_fills=12),
        SymbolCosts(symbol="XRPUSDT", spread_bps=31.0, slippage_bps=-0.001, slippage_fills=3),
        SymbolCosts(symbol="ETHUSDT"),
    ),
    over_cap={"XRPUSDT": "spread 31.0 bps > 15.0 cap"},
)


def test_cost_metrics_encode_rounds_to_a_hundredth_of_a_bps_and_marks_who_is_over() -> None:
    value = encode(METRICS)
    assert value["symbols"] == [
        {"symbol": "BTCUSDT", "spread_bps": 0.02, "slippage_bps": 2.0, "slippage_fills": 12, "over_cap": ""},
        {
            "symbol": "XRPUSDT",
            "spread_bps": 31.0,
            "slippage_bps": 0.0,  # never "-0.0"
            "slippage_fills": 3,
            "over_cap": "spread 31.0 bps > 15.0 cap",
        },
        {"symbol": "ETHUSDT", "spread_bps": None, "slippage_bps": None, "slippage_fills": 0, "over_cap": ""},
    ]
    assert (value["at"], value["max_spread_bps"], value["max_slippage_bps"]) == (METRICS.at, 15.0, 20.0)


def test_cost_metrics_decode_reads_back_what_encode_wrote() -> None:
    back = decode(encode(METRICS))
    assert back.over_cap == {"XRPUSDT": "spread 31.0 bps > 15.0 cap"}
    assert back.symbols[0] == SymbolCosts(symbol="BTCUSDT", spread_bps=0.02, slippage_bps=2.0, slippage_fills=12)
    assert back.symbols[2] == SymbolCosts(symbol="ETHUSDT")
    assert decode(encode(back)) == back


@pytest.mark.parametrize(
    "value",
    [None, [], {"at": 1}, {**encode(METRICS), "symbols": [{"symbol": "X", "spread_bps": "wide"}]}],
)
def test_cost_metrics_decode_refuses_what_is_not_one(value: object) -> None:
    with pytest.raises(ValueError, match="cost-metrics"):
        decode(value)
