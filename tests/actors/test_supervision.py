"""Supervision: a crashed actor is restarted from the database; repeated crashes halt the gate."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from actors.messages import HaltGate, PolicyUpdated, Step
from actors.runtime import InlineRuntime, Runtime, ThreadRuntime
from actors.system import MAX_RESTARTS, Backoff
from tests.actors.harness import WIDE_STOPS, Harness

QUICK = Backoff(first_s=0.05, cap_s=0.15)  # the default's shape, in hundredths of the time


class Fault(RuntimeError):
    pass


def fail_on(actor: str, stage: str, times: int) -> Any:
    """A fault hook: `actor` raises on its next `times` steps at `stage`, then behaves."""
    left = {"n": times}

    def hook(name: str, message: Any) -> None:
        if name == actor and isinstance(message, Step) and message.stage == stage and left["n"] > 0:
            left["n"] -= 1
            raise Fault(f"injected fault in {name}")

    return hook


@pytest.mark.parametrize("runtime", [ThreadRuntime, InlineRuntime])
def test_actor_that_raises_is_restarted_and_the_system_carries_on(tmp_path: Path, runtime: type[Runtime]) -> None:
    h = Harness(tmp_path, fault_hook=None, exit_modes=WIDE_STOPS, runtime=runtime)
    try:
        h.calm(160)
        h.system.ctx.fault_hook = fail_on("risk", "policy", times=1)
        h.step()
        assert h.system.restart_log and h.system.restart_log[0][0] == "risk"
        assert "injected fault" in h.system.restart_log[0][1]
        old_refs = h.system.ctx.registry.get("risk")
        signal = h.signal("BTCUSDT", "LONG", 0.8)
        h.until(lambda: bool(h.positions()), limit=3)
        assert [d[1] for d in h.decisions() if d[0] == signal] == ["ACCEPTED"]
        assert h.system.ctx.registry.get("risk") is old_refs and old_refs.is_alive()
        assert h.gate()[0] != "halted" and h.system.fatal is None
    finally:
        h.stop()


@pytest.mark.parametrize("runtime", [ThreadRuntime, InlineRuntime])
def test_execution_restart_reloads_open_positions_from_the_database(tmp_path: Path, runtime: type[Runtime]) -> None:
    h = Harness(tmp_path, exit_modes=WIDE_STOPS, runtime=runtime)
    try:
        h.calm(160)
        h.signal("BTCUSDT", "LONG", 0.8)
        h.until(lambda: bool(h.positions()) and h.positions()[0][1] == "open", limit=3)
        h.system.ctx.fault_hook = fail_on("execution", "market", times=1)
        h.step()
        assert [name for name, _ in h.system.restart_log] == ["execution"]
        # The restarted actor knows the position: its stop still closes it.
        h.until(lambda: h.positions()[0][1] == "closed", limit=10, BTCUSDT=-0.01)
        assert h.positions()[0][2] == "stop-loss"
    finally:
        h.stop()


def test_repeated_failures_halt_the_gate_and_ask_the_service_to_stop(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.system.backoff = QUICK
    try:
        h.calm(20)
        h.system.ctx.fault_hook = fail_on("signals", "exits", times=MAX_RESTARTS + 5)
        for _ in range(MAX_RESTARTS + 1):
            h.step()
        assert h.system.stop_requested.is_set()
        assert h.system.fatal is not None and "actor failures" in h.system.fatal
        state, reason, _ = h.gate()
        assert state == "halted" and "signals" in reason and "injected fault" in reason
        assert h.gate_triggers()[-1] == "halt"
        assert [actor for actor, _ in h.system.restart_delays] == ["signals"] * MAX_RESTARTS  # none after the halt
    finally:
        h.stop()


def test_backoff_doubles_from_half_a_second_up_to_its_cap() -> None:
    assert [Backoff().delay(n) for n in range(1, 9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_supervisor_restarts_of_one_actor_wait_doubling_delays(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.system.backoff = QUICK
    try:
        h.calm(20)
        h.system.ctx.fault_hook = fail_on("signals", "exits", times=MAX_RESTARTS)
        started = time.monotonic()
        for _ in range(MAX_RESTARTS):
            h.step()  # each waits for its abort, which follows the restart
        elapsed = time.monotonic() - started
        assert h.system.restart_delays == [("signals", 0.05), ("signals", 0.1), ("signals", 0.15)]
        assert elapsed >= 0.3  # the waits were real, not only recorded
        h.calm(3)
        assert h.system.fatal is None and h.gate()[0] != "halted"
        signals = h.system.ctx.registry.get("signals")
        assert signals is not None and signals.is_alive()
    finally:
        h.stop()


def test_supervisor_backoff_counts_each_actors_failures_alone(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.system.backoff = QUICK
    try:
        h.calm(20)
        h.system.ctx.fault_hook = fail_on("risk", "policy", times=1)
        h.step()
        h.system.ctx.fault_hook = fail_on("signals", "exits", times=1)
        h.step()
        assert h.system.restart_delays == [("risk", 0.05), ("signals", 0.05)]
    finally:
        h.stop()


def test_supervisor_stop_during_a_restart_wait_ends_it_and_restarts_nothing(tmp_path: Path) -> None:
    def exits_fails_on_a_policy(name: str, message: Any) -> None:
        if name == "exits" and isinstance(message, PolicyUpdated):
            raise Fault("injected fault in exits")

    h = Harness(tmp_path, fault_hook=exits_fails_on_a_policy)
    h.system.backoff = Backoff(first_s=600.0, cap_s=600.0)
    h.step()  # the step is done without exits (past its stage); exits fails beside it and waits to restart
    exits = h.system.ctx.registry.get("exits")
    started = time.monotonic()
    h.stop()
    assert time.monotonic() - started < 60  # not the 600 s wait
    assert h.system.restart_delays == [("exits", 600.0)]
    assert h.system.ctx.registry.get("exits") is exits and exits is not None and not exits.is_alive()


def test_repeated_failures_halt_the_gate_even_when_the_orchestrator_cannot(tmp_path: Path) -> None:
    """The orchestrator's halt raises (as a locked database would make it): the supervisor halts the gate in
    the database itself, and goes on to end the step, instead of dying with the driver waiting on it."""
    signals_fault = fail_on("signals", "exits", times=MAX_RESTARTS + 5)

    def hook(name: str, message: Any) -> None:
        if name == "orchestrator" and isinstance(message, HaltGate):
            raise Fault("injected fault in the orchestrator's halt")
        signals_fault(name, message)

    h = Harness(tmp_path)
    h.system.backoff = QUICK
    try:
        h.calm(20)
        h.system.ctx.fault_hook = hook
        for _ in range(MAX_RESTARTS + 1):
            h.step()
        assert h.system.stop_requested.is_set()
        state, reason, _ = h.gate()
        assert state == "halted" and "signals" in reason and "actor failures" in reason
    finally:
        h.stop()
