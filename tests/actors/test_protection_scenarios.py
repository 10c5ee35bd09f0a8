"""The protections beyond the day through the real actors and database on virtual time: the max drawdown halt
(which survives a restart and only an operator lifts), the cool-down after stop-outs, the equity floor."""

from __future__ import annotations

from pathlib import Path

import pytest

from persistence import records
from tests.actors.harness import Harness

WARM = 160  # candles before the volatility level leaves NORMAL, as in the gate scenarios
# A stop-out loses ~0.5% of equity (size capped by leverage); the daily lock is put out of the way.
NO_DAILY_LOCK = {"daily_drawdown_limit_pct": 0.5}
BIG_SIZE = {"max_position_usd": 1_000_000}


@pytest.fixture
def harness(tmp_path: Path):  # type: ignore[no-untyped-def]
    made: list[Harness] = []

    def make(**overrides):  # type: ignore[no-untyped-def]
        made.append(Harness(tmp_path, **overrides))
        return made[-1]

    yield make
    for h in made:
        h.stop()


def stop_out(h: Harness) -> None:
    """A long entry stopped out by a 1% drop (an EXTREME candle: the gate pauses until the market calms)."""
    if h.gate()[0] != "open":
        h.until(lambda: h.gate()[0] == "open", limit=400)
    h.signal("BTCUSDT", "LONG", 0.8)
    count = len(h.positions())
    h.until(lambda: len(h.positions()) > count and h.positions()[-1][1] == "open", limit=5)
    h.until(lambda: h.positions()[-1][1] == "closed", limit=5, BTCUSDT=-0.01)
    assert h.positions()[-1][2] == "stop-loss"


def resume(h: Harness, reason: str) -> None:
    with h.engine.begin() as connection:
        records.add_operator_command(connection, command="resume", reason=reason, at=h.clock.now_ms())
    assert h.system.operator_commands() == 1


def test_max_drawdown_halts_survives_restart_and_only_an_operator_resumes(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(profiles={"SAFE": {**NO_DAILY_LOCK, "max_drawdown_pct": 0.003}}, risk=BIG_SIZE)
    h.calm(WARM)
    stop_out(h)
    state, reason, _ = h.gate()
    assert state == "halted" and reason.startswith("Max drawdown from the equity peak hit")
    assert "limit 0.3%" in reason and "only an operator resumes" in reason

    h.restart()
    h.calm(3)
    assert h.gate()[0] == "halted"
    blocked = h.signal("BTCUSDT", "LONG", 0.9)
    h.step()
    assert [d[1:] for d in h.decisions() if d[0] == blocked] == [("BLOCKED_BY_GATE", f"gate halted: {reason}")]
    h.calm(24 * 60)  # a day and more: unlike the daily lock, time does not lift it
    assert h.gate()[0] == "halted"

    resume(h, "loss reviewed")
    assert h.gate()[:2] == ("open", "operator: loss reviewed")
    h.calm(5)
    h.restart()  # the resume is in the database: the peak is measured from it after a restart too
    h.calm(5)
    assert h.gate()[0] == "open"
    assert h.gate_triggers()[-2:] == ["halt", "resume"]
    stop_out(h)  # a new loss from the resumed equity halts again
    assert h.gate()[0] == "halted" and h.gate_triggers()[-1] == "halt"


def test_max_drawdown_counts_from_the_peak_before_a_restart(harness) -> None:  # type: ignore[no-untyped-def]
    # Each stop-out loses ~1.1%: only the two together reach the limit, one before the restart and one after.
    h = harness(profiles={"SAFE": {**NO_DAILY_LOCK, "max_drawdown_pct": 0.015}}, risk=BIG_SIZE)
    h.calm(WARM)
    stop_out(h)
    assert h.gate()[0] != "halted"
    h.restart()
    stop_out(h)
    assert h.gate()[0] == "halted" and h.gate()[1].startswith("Max drawdown from the equity peak hit")


def test_cooldown_after_stop_outs_blocks_the_symbol_and_survives_restart(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(
        symbols=("BTCUSDT", "ETHUSDT"),
        profiles={"SAFE": NO_DAILY_LOCK},
        risk={**BIG_SIZE, "cooldown_after_stop_outs": 2, "cooldown_window_h": 12, "cooldown_h": 12},
    )
    h.calm(WARM)
    stop_out(h)
    stop_out(h)
    h.until(lambda: h.gate()[0] == "open", limit=400)
    held = h.signal("BTCUSDT", "LONG", 0.9)
    other = h.signal("ETHUSDT", "SHORT", 0.9)
    h.step()
    (decision,) = [d for d in h.decisions() if d[0] == held]
    assert decision[1] == "BLOCKED_BY_GATE" and decision[2].startswith("BTCUSDT cooling down until ")
    assert "2 stop-outs within 12h" in decision[2]
    assert [d[1] for d in h.decisions() if d[0] == other] == ["ACCEPTED"]
    assert h.gate()[0] != "halted"

    h.restart()  # the stop-outs are read back from the closed positions
    again = h.signal("BTCUSDT", "LONG", 0.9)
    h.step()
    assert [d[1] for d in h.decisions() if d[0] == again] == ["BLOCKED_BY_GATE"]
    h.calm(12 * 60)  # the cool-down is over
    after = h.signal("BTCUSDT", "LONG", 0.9)
    h.step()
    assert [d[1] for d in h.decisions() if d[0] == after] == ["ACCEPTED"]


def test_equity_floor_pauses_the_gate_and_nothing_is_sized_whatever_the_flags(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(risk={"equity_floor_usd": 20_000})  # the paper account starts with 10,000
    h.calm(WARM)
    state, reason, _ = h.gate()
    assert state == "paused" and reason.startswith("Equity below the floor (10000.00 < 20000 USDT)")
    blocked = h.signal("BTCUSDT", "LONG", 0.9)
    h.step()
    assert [d[1] for d in h.decisions() if d[0] == blocked] == ["BLOCKED_BY_GATE"]
    assert h.positions() == []


def test_equity_floor_with_the_gate_flag_off_rejected_by_sizing(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(risk={"equity_floor_usd": 20_000}, orchestrator={"flags": {"use_for_trading_gate": False}})
    h.calm(WARM)
    assert h.gate()[0] == "open"
    refused = h.signal("BTCUSDT", "LONG", 0.9)
    h.step()
    (decision,) = [d for d in h.decisions() if d[0] == refused]
    assert decision[1] == "REJECTED_BY_SIZING" and "Equity below the floor" in decision[2]
    assert h.positions() == []
