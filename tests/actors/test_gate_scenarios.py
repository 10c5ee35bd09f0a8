"""The trading gate through the real actors on virtual time."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.clock import next_utc_midnight
from tests.actors.harness import WIDE_STOPS, Harness

WARM = 160  # candles before the volatility level leaves NORMAL (100 ATR% values) with room to spare


@pytest.fixture
def harness(tmp_path: Path):  # type: ignore[no-untyped-def]
    made: list[Harness] = []

    def make(**overrides):  # type: ignore[no-untyped-def]
        made.append(Harness(tmp_path, **overrides))
        return made[-1]

    yield make
    for h in made:
        h.stop()


def test_extreme_volatility_pauses_the_gate_and_it_reopens_when_calm(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    h.calm(WARM)
    assert h.gate()[0] == "open"
    h.step(BTCUSDT=-0.06)  # a 6% candle on a 0.05% market
    assert h.gate()[:2] == ("paused", "EXTREME volatility")
    signal = h.signal("BTCUSDT", "LONG", 0.9)
    h.step()
    assert ("BLOCKED_BY_GATE") in {d[1] for d in h.decisions() if d[0] == signal}
    h.until(lambda: h.gate()[0] == "open", limit=400)
    assert h.gate_triggers()[-2:] == ["pause", "clear"] or h.gate_triggers()[-1] == "clear"


def test_daily_drawdown_lock_holds_until_next_utc_day_and_survives_restart(harness) -> None:  # type: ignore[no-untyped-def]
    # Position size capped by the account's leverage (3x), not by max_position_usd: a stop-out passes the 0.3% limit.
    h = harness(profiles={"SAFE": {"daily_drawdown_limit_pct": 0.003}}, risk={"max_position_usd": 1_000_000})
    h.calm(WARM)
    h.signal("BTCUSDT", "LONG", 0.8)
    h.until(lambda: h.positions() and h.positions()[-1][1] == "open", limit=5)
    h.until(lambda: h.positions()[-1][1] == "closed", limit=5, BTCUSDT=-0.01)
    assert h.positions()[-1][2] == "stop-loss"
    state, reason, locked_until = h.gate()
    assert state == "locked" and reason.startswith("Daily DD limit hit")
    assert locked_until == next_utc_midnight(h.clock.now_ms())

    h.restart()
    h.step()
    assert h.gate()[0] == "locked"
    blocked = h.signal("BTCUSDT", "LONG", 0.9)
    h.step()
    assert [d[1] for d in h.decisions() if d[0] == blocked] == ["BLOCKED_BY_GATE"]
    h.until(lambda: h.gate()[0] == "open", limit=24 * 60)
    assert h.clock.now_ms() >= locked_until
    assert h.gate_triggers()[-2:] == ["lock", "unlock"]


def test_max_positions_pause_gate_yet_stop_loss_still_fills(harness) -> None:  # type: ignore[no-untyped-def]
    # A wide stop (~10 ATR, ~1%), so calm noise does not stop the position out before the test does.
    h = harness(symbols=("BTCUSDT", "ETHUSDT"), profiles={"SAFE": {"max_open_positions": 1}}, exit_modes=WIDE_STOPS)
    h.calm(WARM)
    h.signal("BTCUSDT", "LONG", 0.8)
    h.until(lambda: h.positions() and h.positions()[-1][1] == "open", limit=5)
    h.step()
    assert h.gate()[:2] == ("paused", "Max open positions reached (1/1)")
    second = h.signal("ETHUSDT", "SHORT", 0.9)
    h.step()
    assert [d[1] for d in h.decisions() if d[0] == second] == ["BLOCKED_BY_GATE"]
    # The gate stops entries only: the open position's stop still fills while it is paused.
    h.until(lambda: h.positions()[0][1] == "closed", limit=5, BTCUSDT=-0.02)
    assert h.positions()[0][2] == "stop-loss"
    assert h.gate()[0] == "paused"
    h.until(lambda: h.gate()[0] == "open", limit=400)  # the drop itself was extreme; calm reopens it
    assert h.gate_triggers()[-1] == "clear"


def test_exposure_cap_blocks_a_signal_whose_risk_would_exceed_it(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(
        profiles={"SAFE": {"max_total_exposure_pct": 0.001, "max_symbol_exposure_pct": 0.001}},
        risk={"max_position_usd": 1_000_000},
    )
    h.calm(WARM)
    signal = h.signal("BTCUSDT", "LONG", 0.7)
    h.step()
    reasons = [(d[1], d[2]) for d in h.decisions() if d[0] == signal]
    assert len(reasons) == 1 and reasons[0][0] == "BLOCKED_BY_EXPOSURE"
    assert "exposure would be" in reasons[0][1] and "> cap 0.10%" in reasons[0][1]
    assert h.positions() == []
