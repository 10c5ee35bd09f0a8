"""The execution actor: a pykka shell around the execution engine (actors/execution/engine.py)."""

from __future__ import annotations

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

    def shut_down(self) -> None:
        if hasattr(self, "engine"):
            self.engine.close()

    def handle(self, message: Any) -> Any:
        match message:
            case Step(stage=Stage.MARKET):
                portfolio, events, halts = self.engine.on_market(message)
                self._halt(halts)
                self.pass_on(message, portfolio=portfolio, events=events)
            case Step(stage=Stage.INTENTS):
                self.engine.follow_policy(message.policy)
                self.engine.on_intents(message.intents, message.at)
                self.pass_on(message)
            case MoveStop():
                self.engine.move_stop(message)
            case ClosePosition():
                self.engine.closing.close(message.position_id, message.reason)
            case RecoveryAsked():
                return self.recovery
            case Shutdown():
                self.engine.accepting = False
        return None

    def _halt(self, halts: list[HaltGate]) -> None:
        for halt in halts:
            self.tell("orchestrator", halt)
