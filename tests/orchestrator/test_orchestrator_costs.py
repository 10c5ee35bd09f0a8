"""The cost caps: a symbol over its spread or realised-slippage cap is named with why; unknown figures break none."""

from __future__ import annotations

import pytest

from actors.orchestrator.costs import cost_breaches
from config.sections import RiskSettings
from persistence.cost_metrics import SymbolCosts

RISK = RiskSettings(max_spread_bps=15.0, max_slippage_bps=20.0, slippage_window=20, slippage_min_fills=5)


def costs(symbol: str = "XRPUSDT", **figures: float | int | None) -> SymbolCosts:
    return SymbolCosts(symbol=symbol, **figures)  # type: ignore[arg-type]


def test_cost_breaches_nothing_known_breaks_no_cap() -> None:
    assert cost_breaches([costs(), costs("BTCUSDT")], RISK) == {}


@pytest.mark.parametrize(("spread", "over"), [(15.0, False), (15.01, True), (0.0, False), (120.0, True)])
def test_cost_breaches_spread_strictly_above_the_cap(spread: float, over: bool) -> None:
    found = cost_breaches([costs(spread_bps=spread)], RISK)
    assert ("XRPUSDT" in found) is over
    if over:
        assert found["XRPUSDT"] == f"spread {spread:.1f} bps > 15.0 cap"


@pytest.mark.parametrize(
    ("slippage", "fills", "over"),
    [
        (25.0, 4, False),  # too few fills: one bad fill does not shut a symbol
        (25.0, 5, True),
        (20.0, 20, False),  # at the cap is not above it
        (-30.0, 20, False),  # fills better than decided cost nothing
        (None, 0, False),
    ],
)
def test_cost_breaches_slippage_needs_its_minimum_fills(slippage: float | None, fills: int, over: bool) -> None:
    found = cost_breaches([costs(slippage_bps=slippage, slippage_fills=fills)], RISK)
    assert ("XRPUSDT" in found) is over


def test_cost_breaches_both_caps_give_both_reasons_in_one_line() -> None:
    found = cost_breaches([costs(spread_bps=16.0, slippage_bps=33.333, slippage_fills=7), costs("BTCUSDT")], RISK)
    assert found == {"XRPUSDT": "spread 16.0 bps > 15.0 cap, slippage 33.3 bps over 7 fills > 20.0 cap"}


def test_risk_settings_slippage_min_fills_above_window_refused() -> None:
    with pytest.raises(ValueError, match="slippage_min_fills cannot exceed slippage_window"):
        RiskSettings(slippage_window=3, slippage_min_fills=5)
