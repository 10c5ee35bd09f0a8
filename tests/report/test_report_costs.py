"""The report's costs by symbol: run-wide slippage of the measured fills, what the policy saw last, and the signals
a cost cap blocked, told apart from other filter blocks by the policy's own note."""

from __future__ import annotations

import pytest

from actors.execution.slippage import SlippageSample
from actors.messages import Regime, SymbolCosts, VolatilityLevel
from actors.orchestrator.policy import PolicyInputs, SymbolPerformance, compute_policy
from config.profiles import DEFAULT_PROFILES, RiskProfileName
from config.sections import RiskSettings
from persistence.cost_metrics import CostMetrics
from service.report.costs import FilterBlock, cost_section, costs_rows

SAFE = RiskProfileName.SAFE


def note_with(**inputs: object) -> str:
    """The policy's own note, as a blocked signal's detail carries it."""
    policy = compute_policy(
        PolicyInputs(regime=Regime.SIDEWAYS, volatility=VolatilityLevel.NORMAL, **inputs),  # type: ignore[arg-type]
        DEFAULT_PROFILES[SAFE],
        SAFE,
        RiskSettings(),
    )
    return policy.note


def sample(symbol: str, bps: float, key: str) -> SlippageSample:
    return SlippageSample(symbol=symbol, at=1, bps=bps, key=key)


def test_cost_section_rows_per_symbol_run_wide_and_as_the_policy_saw_them() -> None:
    seen = CostMetrics(
        at=5,
        max_spread_bps=15.0,
        max_slippage_bps=20.0,
        symbols=(
            SymbolCosts(symbol="BTCUSDT", spread_bps=0.5, slippage_bps=3.0, slippage_fills=2),
            SymbolCosts(symbol="XRPUSDT", spread_bps=21.0),
        ),
        over_cap={"XRPUSDT": "spread 21.0 bps > 15.0 cap"},
    )
    samples = [sample("BTCUSDT", 1.0, "a"), sample("BTCUSDT", 5.0, "b"), sample("BTCUSDT", -3.0, "c")]
    xrp_note = note_with(costs=(SymbolCosts(symbol="XRPUSDT", spread_bps=21.0),))
    poor = note_with(performance=(SymbolPerformance(symbol="BTCUSDT", closed_trades=12, win_rate=0.2, avg_r=0.1),))
    blocks = [
        FilterBlock(symbol="XRPUSDT", detail=f"XRPUSDT is disallowed: {xrp_note}"),
        FilterBlock(symbol="XRPUSDT", detail=f"XRPUSDT is disallowed: {xrp_note}"),
        FilterBlock(symbol="BTCUSDT", detail=f"BTCUSDT is disallowed: {poor}"),  # a poor performer: not a cost
        FilterBlock(symbol="DOGEUSDT", detail="DOGEUSDT is not in the configured symbol universe"),
    ]
    section = cost_section(samples, seen, blocks, ("ETHUSDT", "BTCUSDT", "XRPUSDT"))
    assert (section["max_spread_bps"], section["max_slippage_bps"]) == (15.0, 20.0)
    rows = {row["symbol"]: row for row in section["by_symbol"]}
    assert list(rows) == ["ETHUSDT", "BTCUSDT", "XRPUSDT"]
    assert rows["BTCUSDT"] == {
        "symbol": "BTCUSDT",
        "spread_bps": 0.5,
        "recent_slippage_bps": 3.0,
        "recent_fills": 2,
        "over_cap": "",
        "fills": 3,
        "mean_bps": pytest.approx(1.0),
        "worst_bps": 5.0,
        "blocked_by_cost": 0,
    }
    assert rows["XRPUSDT"]["over_cap"] == "spread 21.0 bps > 15.0 cap" and rows["XRPUSDT"]["blocked_by_cost"] == 2
    assert rows["ETHUSDT"]["spread_bps"] is None and rows["ETHUSDT"]["fills"] == 0
    assert costs_rows(section)[1] == ("BTCUSDT", "0.50", 3, "1.00", "5.00", "3.00 (2)", "-", 0)


def test_cost_section_a_symbol_over_a_cap_and_a_poor_performer_still_counts_as_a_cost_block() -> None:
    note = note_with(
        costs=(SymbolCosts(symbol="BTCUSDT", slippage_bps=30.0, slippage_fills=5),),
        performance=(SymbolPerformance(symbol="BTCUSDT", closed_trades=12, win_rate=0.2, avg_r=0.1),),
    )
    block = FilterBlock(symbol="BTCUSDT", detail=f"BTCUSDT is disallowed: {note}")
    assert cost_section([], None, [block])["by_symbol"][0]["blocked_by_cost"] == 1


def test_cost_section_without_a_cost_row_still_lists_the_measured_fills() -> None:
    section = cost_section([sample("ETHUSDT", 2.0, "a")], None, [])
    assert section["max_spread_bps"] is None
    assert section["by_symbol"][0]["spread_bps"] is None and section["by_symbol"][0]["fills"] == 1
