"""The summary line a person can follow: every `log.summary_every_s` on the service's clock, what happened since
the last one (candles, signals, decisions by reason) and where things stand (open positions, equity, the gate)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from actors.clock import Clock
from service import activity

log = logging.getLogger("quantum_trader.summary")


class SummaryLine:
    def __init__(self, engine: Engine, clock: Clock, every_s: float) -> None:
        self.engine = engine
        self.clock = clock
        self.every_ms = int(every_s * 1000)
        self.candles = 0
        self.last_at = clock.now_ms()
        with engine.connect() as connection:
            self.last_decision = activity.last_decision_id(connection)

    def count(self, candles: int) -> None:
        self.candles += candles

    def due(self) -> bool:
        return self.clock.now_ms() - self.last_at >= self.every_ms

    def write(self) -> None:
        now = self.clock.now_ms()
        with self.engine.connect() as connection:
            decisions = activity.decisions_after(connection, self.last_decision)
            positions = activity.open_positions(connection)
            equity = activity.equity(connection)
            gate = activity.gate(connection)
        log.info(
            "summary (last %ds): %d candle(s), %s; %d open position(s); equity %s; gate %s",
            round((now - self.last_at) / 1000),
            self.candles,
            decisions.describe(),
            positions,
            activity.money(equity),
            gate,
        )
        self.candles, self.last_at, self.last_decision = 0, now, decisions.last_id
