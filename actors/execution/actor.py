"""The execution actor: a pykka shell around the execution engine (actors/execution/engine.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.base import SupervisedActor
from actors.execution.engine import ExecutionEngine
from actors.execution.recovery import Action
from actors.messages import ClosePosition, HaltGate, MoveStop, Shutdown, Stage, Step
from persistence.store import Store


@dataclass(frozen=True, slots=True)
class RecoveryAsked:
    """Asked from outside (the `recover` command, tests): the recovery plan applied at this actor's start."""


class ExecutionActor(SupervisedActor):
    name = "execution"

    def start_up(self) -> None:
        self.engine = ExecutionEngine(
            self.ctx.settings,
            self.ctx.clock,
            self.ctx.exchange,
            Store(self.ctx.engine),
            checkpoint_steps=self.ctx.durable_steps,
            feed_health=self.ctx.feed_health,
            book_spreads=self.ctx.book_spreads,
        )
        self.recovery: tuple[Action, ...]
        self.recovery, halts = self.engine.start()
        self._halt(halts)
        # The two stages a step brings here, by stage: a dict look-up costs a third of matching the stage's value.
        self.stages: dict[Stage, Callable[[Step], None]] = {
            Stage.MARKET: self._on_market,
            Stage.INTENTS: self._on_intents,
        }

    def shut_down(self) -> None:
        if hasattr(self, "engine"):
            self.engine.close()

    def handle(self, message: Any) -> Any:
        match message:
            case Step():
                stage = self.stages.get(message.stage)  # a step at another stage is not for this actor
                if stage is not None:
                    stage(message)
            case MoveStop():
                self.engine.move_stop(message)
            case ClosePosition():
                self.engine.closing.close(message.position_id, message.reason)
            case RecoveryAsked():
                return self.recovery
            case Shutdown():
                self.engine.accepting = False
        return None

    def _on_market(self, step: Step) -> None:
        portfolio, events, halts = self.engine.on_market(step)
        self._halt(halts)
        self.pass_on(step, portfolio=portfolio, events=events)

    def _on_intents(self, step: Step) -> None:
        self.engine.follow_policy(step.policy)
        self.engine.on_intents(step.intents, step.at)
        self.pass_on(step)

    def _halt(self, halts: list[HaltGate]) -> None:
        for halt in halts:
            self.tell("orchestrator", halt)
