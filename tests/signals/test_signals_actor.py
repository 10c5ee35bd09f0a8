"""The signals actor in the real actor system on virtual time: each signal id decided exactly once, also across
restarts and abandoned steps; too old signals recorded and not traded; the inbox not read behind the clock."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from actors.messages import Step
from persistence import records
from tests.actors.harness import MINUTE, WIDE_STOPS, Harness

WARM = 160  # calm candles before the volatility level settles (as in tests/actors)


@pytest.fixture
def made(tmp_path: Path) -> Iterator[list[Harness]]:
    harnesses: list[Harness] = []
    yield harnesses
    for harness in harnesses:
        harness.stop()


def start(made: list[Harness], tmp_path: Path, **overrides: Any) -> Harness:
    harness = Harness(tmp_path, exit_modes=WIDE_STOPS, **overrides)
    made.append(harness)
    return harness


def write(h: Harness, **fields: object) -> None:
    line = {"symbol": "BTCUSDT", "side": "LONG", "confidence": 0.8} | fields
    with h.inbox.open("a") as handle:
        handle.write(json.dumps(line) + "\n")


def reasons(h: Harness, signal_id: str) -> list[str]:
    return [reason for sid, reason, _ in h.decisions() if sid == signal_id]


def operator(h: Harness, command: str) -> None:
    with h.engine.begin() as connection:
        records.add_operator_command(connection, command=command, reason="test", at=h.clock.now_ms())
    h.system.operator_commands()


def positions_of(h: Harness, signal_id: str) -> list[tuple[Any, ...]]:
    return h.rows("SELECT id, state FROM positions WHERE signal_id = :sid", sid=signal_id)


def fail_once(actor: str, stage: str) -> Any:
    left = {"n": 1}

    def hook(name: str, message: Any) -> None:
        if name == actor and isinstance(message, Step) and message.stage == stage and left["n"] > 0:
            left["n"] -= 1
            raise RuntimeError(f"injected fault in {name}")

    return hook


def test_signals_actor_signal_blocked_during_halt_not_judged_again_after_restart(
    made: list[Harness], tmp_path: Path
) -> None:
    h = start(made, tmp_path)
    h.calm(WARM)
    operator(h, "halt")
    held = h.signal("BTCUSDT", "LONG", 0.9)
    h.step()
    assert reasons(h, held) == ["BLOCKED_BY_GATE"]
    operator(h, "resume")
    h.restart()
    after = h.signal("BTCUSDT", "LONG", 0.9)
    h.until(lambda: bool(reasons(h, after)), limit=3)
    h.calm(2)
    assert reasons(h, after) == ["ACCEPTED"]  # trading is possible again: only `held` is not traded
    assert reasons(h, held) == ["BLOCKED_BY_GATE"] and positions_of(h, held) == []


def test_signals_actor_reused_id_keeps_its_one_decision_and_is_logged(
    made: list[Harness], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="quantum_trader.signals")
    h = start(made, tmp_path)
    h.calm(WARM)
    write(h, id="order-1", confidence=0.9)
    h.step()
    assert reasons(h, "order-1") == ["ACCEPTED"]
    write(h, id="order-1", side="SHORT", confidence=0.9)  # the same id again, later
    write(h, id="twice", symbol="ETHUSDT", confidence=0.1)
    write(h, id="twice", symbol="ETHUSDT", confidence=0.9)  # and twice within one step
    h.calm(2)
    assert reasons(h, "order-1") == ["ACCEPTED"] and len(positions_of(h, "order-1")) == 1
    assert reasons(h, "twice") == ["BLOCKED_BY_POLICY_FILTER"]  # the first line's: ETHUSDT is not configured
    warnings = [r.getMessage() for r in caplog.records if "decided before" in r.getMessage()]
    assert len(warnings) == 1
    assert "order-1 (ACCEPTED)" in warnings[0] and "twice (twice in one step)" in warnings[0]


def test_signals_actor_signal_older_than_max_age_rejected_as_stale_and_not_traded(
    made: list[Harness], tmp_path: Path
) -> None:
    h = start(made, tmp_path)
    h.calm(WARM)
    write(h, id="late", at=h.clock.now_ms() + MINUTE - 61_000)  # read at the next step, 61 s after its time
    write(h, id="in-time", symbol="ETHUSDT", at=h.clock.now_ms() + MINUTE - 60_000)
    h.step()
    assert reasons(h, "late") == ["REJECTED_AS_STALE"] and positions_of(h, "late") == []
    assert reasons(h, "in-time") == ["BLOCKED_BY_POLICY_FILTER"]  # as old as allowed: judged as usual
    detail = h.rows("SELECT detail FROM signal_decisions WHERE signal_id = 'late'")[0][0]
    assert "61.0s old (max 60s)" in detail


def test_signals_actor_inbox_not_read_in_a_step_behind_the_clock_then_read_live(
    made: list[Harness], tmp_path: Path
) -> None:
    h = start(made, tmp_path)
    h.calm(WARM)
    waiting = h.signal("BTCUSDT", "LONG", 0.9)
    candle = h.candle("BTCUSDT", 0.0001)
    h.clock.advance_to(candle.close_time + 10_001)  # history: the step's prices are behind the clock
    h.system.step(candle.close_time, (candle,))
    assert reasons(h, waiting) == [] and h.positions() == []
    h.step()
    assert reasons(h, waiting) == ["ACCEPTED"]  # without an `at`, as old as its first reading: not stale


def test_signals_actor_step_abandoned_after_the_orchestrator_each_signal_decided_once(
    made: list[Harness], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="quantum_trader.signals")
    h = start(made, tmp_path, signals={"max_age_s": 300})
    h.calm(WARM)
    weak = h.signal("BTCUSDT", "LONG", 0.1)
    good = h.signal("BTCUSDT", "LONG", 0.9)
    h.system.ctx.fault_hook = fail_once("risk", "policy")
    h.step()  # the orchestrator commits weak's decision; risk fails on good's and the step is abandoned
    assert [name for name, _ in h.system.restart_log] == ["risk"]
    assert reasons(h, weak) == ["BLOCKED_BY_CONFIDENCE"] and reasons(h, good) == []
    h.step()
    assert reasons(h, weak) == ["BLOCKED_BY_CONFIDENCE"] and reasons(h, good) == ["ACCEPTED"]
    assert any("lost their step" in r.getMessage() for r in caplog.records)


def test_signals_actor_line_without_at_that_lost_its_step_ages_from_its_first_reading(
    made: list[Harness], tmp_path: Path
) -> None:
    h = start(made, tmp_path, signals={"max_age_s": 30})
    h.calm(WARM)
    signal = h.signal("BTCUSDT", "LONG", 0.9)
    h.system.ctx.fault_hook = fail_once("risk", "policy")
    h.step()
    assert reasons(h, signal) == []
    h.step()  # a minute after it was first read
    assert reasons(h, signal) == ["REJECTED_AS_STALE"] and h.positions() == []


def test_signals_actor_position_without_its_decision_recorded_from_the_position_after_restart(
    made: list[Harness], tmp_path: Path
) -> None:
    h = start(made, tmp_path)
    h.calm(WARM)
    signal = h.signal("BTCUSDT", "LONG", 0.9)
    h.step()
    assert reasons(h, signal) == ["ACCEPTED"]

    def as_a_crash_leaves_it(_: Any) -> None:
        # Killed after the entry's commit and before the step's last transaction: a position, no decision, and
        # the cursor still before the line.
        with h.engine.begin() as connection:
            connection.execute(text("DELETE FROM signal_decisions WHERE signal_id = :sid"), {"sid": signal})
            connection.execute(text("DELETE FROM service_state WHERE name LIKE 'inbox:%'"))

    h.while_down(as_a_crash_leaves_it)
    h.calm(2)
    rows = h.rows("SELECT reason, detail, position_id FROM signal_decisions WHERE signal_id = :sid", sid=signal)
    assert len(rows) == 1 and rows[0][0] == "ACCEPTED" and "decided before a restart" in rows[0][1]
    assert [pid for pid, _ in positions_of(h, signal)] == [rows[0][2]]


def test_signals_actor_clean_restart_reads_on_from_the_saved_cursor(
    made: list[Harness], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="quantum_trader.signals")
    h = start(made, tmp_path)
    h.calm(WARM)
    first = h.signal("BTCUSDT", "LONG", 0.1)
    write(h, id="evil[/]")
    h.step()
    h.restart()
    h.calm(2)
    assert reasons(h, first) == ["BLOCKED_BY_CONFIDENCE"]
    messages = [r.getMessage() for r in caplog.records]
    assert not any("decided before" in m or "lost their step" in m for m in messages)
    assert sum("bad id: 'evil[/]'" in m for m in messages) == 1  # reported once, not again after the restart
    cursor = h.rows("SELECT value FROM service_state WHERE name LIKE 'inbox:%'")
    assert json.loads(cursor[0][0])["offset"] == h.inbox.stat().st_size
