"""The signals actor: the built-in strategy on every closed candle, and the user's JSON-lines inbox."""

from __future__ import annotations

import logging
from typing import Any

from actors.base import SupervisedActor
from actors.messages import STALE_AFTER_MS, Signal, Stage, Step
from actors.signals.builtin import EmaCrossoverStrategy
from actors.signals.inbox import InboxReader

log = logging.getLogger("quantum_trader.signals")


class SignalsActor(SupervisedActor):
    name = "signals"

    def start_up(self) -> None:
        settings = self.ctx.settings.signals
        self.strategy = EmaCrossoverStrategy() if settings.builtin else None
        self.inbox = InboxReader(settings.inbox) if settings.inbox else None
        self.malformed = 0

    def handle(self, message: Any) -> Any:
        if isinstance(message, Step) and message.stage == Stage.EXITS:
            self.pass_on(message, signals=self._signals(message))
        return None

    def _signals(self, step: Step) -> tuple[Signal, ...]:
        found: list[Signal] = []
        stale = self.ctx.clock.now_ms() - step.at > STALE_AFTER_MS
        if self.strategy is not None:
            for candle, snapshot in zip(step.candles, step.snapshots, strict=True):
                signal = self.strategy.on_candle(candle, snapshot)
                if signal is not None and not stale:
                    found.append(signal)
        if self.inbox is not None:
            poll = self.inbox.poll(step.at)
            for line, reason in poll.errors:
                self.malformed += 1
                log.warning("signal inbox line %d skipped: %s", line, reason)
            found.extend(poll.signals)
        return tuple(found)
