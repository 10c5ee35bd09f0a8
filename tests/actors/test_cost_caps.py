"""The cost caps through the real actors on paper: a symbol whose spread, or whose realised slippage over its recent
fills, is above its cap is disallowed with that reason; the costs the policy saw are kept for `status`."""

from __future__ import annotations

from pathlib import Path

import pytest

from persistence import cost_metrics, records
from tests.actors.harness import WIDE_STOPS, Harness

WARM = 40  # candles before sizing has its ATR and filters


def costs_row(h: Harness) -> cost_metrics.CostMetrics:
    with h.engine.connect() as connection:
        return cost_metrics.decode(records.load_state(connection, cost_metrics.COST_METRICS))


def decision(h: Harness, signal_id: str) -> tuple[str, str]:
    reason, detail = [(d[1], d[2]) for d in h.decisions() if d[0] == signal_id][-1]
    return reason, detail


def test_paper_symbol_above_its_spread_cap_is_disallowed_with_that_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The harness's `exchange` argument makes a port; the paper settings come through the environment instead.
    monkeypatch.setenv("QT_EXCHANGE__PAPER__SPREAD_BPS", "1")
    monkeypatch.setenv("QT_EXCHANGE__PAPER__SYMBOL_SPREAD_BPS", '{"ETHUSDT": "20"}')
    h = Harness(tmp_path, symbols=("BTCUSDT", "ETHUSDT"))
    try:
        h.calm(WARM)
        wide, narrow = h.signal("ETHUSDT", "LONG"), h.signal("BTCUSDT", "LONG")
        h.step()
        reason, detail = decision(h, wide)
        assert reason == "BLOCKED_BY_POLICY_FILTER"
        assert "Disallowed ETHUSDT: spread 20.0 bps > 15.0 cap" in detail
        assert decision(h, narrow)[0] == "ACCEPTED"
        row = costs_row(h)
        assert row.over_cap == {"ETHUSDT": "spread 20.0 bps > 15.0 cap"}
        assert [(c.symbol, c.spread_bps) for c in row.symbols] == [("BTCUSDT", 1.0), ("ETHUSDT", 20.0)]
        assert row.max_spread_bps == 15.0
    finally:
        h.stop()


def test_paper_symbol_whose_fills_slipped_past_the_cap_is_disallowed_and_stays_so_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The paper exchange slips 30 bps against every taker: an entry and its stop-loss measure about that.
    monkeypatch.setenv("QT_EXCHANGE__PAPER__SLIPPAGE_BPS", "30")
    h = Harness(tmp_path, risk={"max_slippage_bps": 20, "slippage_min_fills": 2}, exit_modes=WIDE_STOPS)
    try:
        h.calm(WARM)
        h.signal("BTCUSDT", "LONG")
        h.until(lambda: bool(h.positions()) and h.positions()[-1][1] == "open", limit=3)
        one = costs_row(h).symbols[0]
        assert one.slippage_fills == 1 and one.slippage_bps == pytest.approx(30, abs=1)
        early = h.signal("BTCUSDT", "LONG")  # one fill is below the minimum: not disallowed (risk stops it)
        h.step()
        assert decision(h, early)[0] == "BLOCKED_BY_POSITION_LIMIT"

        h.until(lambda: h.positions()[-1][1] == "closed", limit=5, BTCUSDT=-0.02)
        assert h.positions()[-1][2] == "stop-loss"
        row = costs_row(h)
        (btc,) = row.symbols
        assert btc.slippage_fills == 2 and btc.slippage_bps == pytest.approx(30, abs=1)
        assert row.over_cap["BTCUSDT"].startswith("slippage 3")
        late = h.signal("BTCUSDT", "LONG")
        h.step()
        reason, detail = decision(h, late)
        assert reason == "BLOCKED_BY_POLICY_FILTER" and "Disallowed BTCUSDT: slippage 3" in detail
        assert "over 2 fills > 20.0 cap" in detail

        h.restart()  # the measure is rebuilt from the orders and fills in the database
        again = h.signal("BTCUSDT", "LONG")
        h.step()
        assert decision(h, again)[0] == "BLOCKED_BY_POLICY_FILTER"
        assert costs_row(h).symbols[0].slippage_fills == 2
    finally:
        h.stop()


def test_paper_costs_within_caps_trade_as_before(tmp_path: Path) -> None:
    h = Harness(tmp_path)  # the paper defaults: no spread, 2 bps of slippage
    try:
        h.calm(WARM)
        signal = h.signal("BTCUSDT", "LONG")
        h.until(lambda: bool(h.positions()) and h.positions()[-1][1] == "open", limit=3)
        assert decision(h, signal)[0] == "ACCEPTED"
        row = costs_row(h)
        assert row.over_cap == {} and row.symbols[0].spread_bps == 0.0
        assert row.symbols[0].slippage_fills == 1 and 1.5 < (row.symbols[0].slippage_bps or 0) < 2.5
    finally:
        h.stop()


def test_replay_writes_the_latest_costs_row_with_its_policies_not_at_each_change(tmp_path: Path) -> None:
    h = Harness(tmp_path, durable_steps=False)
    try:
        h.calm(WARM)
        with h.engine.connect() as connection:  # under a batch of policy snapshots: none written yet
            assert records.load_state(connection, cost_metrics.COST_METRICS) is None
    finally:
        h.stop()
    assert [c.symbol for c in costs_row(h).symbols] == ["BTCUSDT"]  # written as the orchestrator stopped
