"""The signals actor: the built-in strategy on every closed candle, and the user's JSON-lines inbox."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from actors.base import SupervisedActor
from actors.messages import Signal, Step
from actors.signals.builtin import EmaCrossoverStrategy
from actors.signals.inbox import InboxReader

log = logging.getLogger("quantum_trader.signals")
# A step this far behind the clock is history (a warm-up, a catch-up after a gap): the strategy
# learns from it, but a signal from it would trade today at yesterday's reasons.
STALE_AFTER_MS = 120_000


class SignalsActor(SupervisedActor):
    name = "signals"

    def start_up(self) -> None:
        settings = self.ctx.settings.signals
        self.strategy = EmaCrossoverStrategy() if settings.builtin else None
        self.inbox = InboxReader(settings.inbox) if settings.inbox else None
        self.malformed = 0

    def handle(self, message: Any) -> Any:
        if isinstance(message, Step) and message.stage == "exits":
            self.tell("orchestrator", replace(message, stage="signals", signals=self._signals(message)))
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
