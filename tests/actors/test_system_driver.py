"""The driver hands in one step at a time: it never returns from a step whose messages are still on their way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actors.base import Ready
from actors.messages import PolicyUpdated, Stage, Step
from actors.pipeline import ROUTES
from actors.system import Backoff, TradingSystem
from tests.actors.harness import Harness


class Fault(RuntimeError):
    pass


class Watch:
    """A fault hook: the exits actor raises on the first policy update it is sent (a message beside the step,
    so its failure is not the step's own), and every step that reaches its last stage is noted."""

    def __init__(self) -> None:
        self.faults = 0
        self.finished: list[int] = []  # steps whose last stage (execution's INTENTS) began

    def __call__(self, name: str, message: Any) -> None:
        if name == "exits" and isinstance(message, PolicyUpdated) and self.faults == 0:
            self.faults += 1
            raise Fault("injected fault in exits on a policy update")
        if name == "execution" and isinstance(message, Step) and message.stage is Stage.INTENTS:
            self.finished.append(message.at)


def unfinished_after_settling(system: TradingSystem, at: int) -> list[tuple[str, int]]:
    """Wait until every message already sent along the pipeline is handled (asking each stage's actor in route
    order chases a step to its end), then the 'done' tokens of step `at` still waiting for the driver: one there
    means the driver returned from the step before the step was done."""
    for _, name in ROUTES:
        ref = system.ctx.registry.get(name)
        if ref is not None and ref.is_alive():
            ref.ask(Ready(), timeout=60)
    waiting = []
    while not system.ctx.step_done.empty():  # the driver drops what is left at its next step anyway
        waiting.append(system.ctx.step_done.get_nowait())
    return [token for token in waiting if token == ("done", at)]


def test_driver_failure_beside_a_step_never_lets_the_driver_run_ahead(tmp_path: Path) -> None:
    """The supervisor's abort for a failure must end only the step it was on: a token left over from it made a
    later step return at once, before that step was done."""
    watch = Watch()
    h = Harness(tmp_path, fault_hook=watch)
    h.system.backoff = Backoff(first_s=0.01, cap_s=0.04)
    steps, ran_ahead = [], []
    try:
        for _ in range(12):
            h.step()  # the first step publishes the first policy: exits fails beside it
            steps.append(h.open_time)
            ran_ahead += unfinished_after_settling(h.system, h.open_time)
        assert [name for name, _ in h.system.restart_log] == ["exits"] and watch.faults == 1
    finally:
        h.stop()
    assert ran_ahead == []
    assert steps[-8:] == watch.finished[-8:]  # the service carries on: every later step is finished
