"""The exit actor: trails stops and reacts to exit-mode changes; stop-loss and take-profit rest on the exchange.

A new exit mode does not rewrite an open position's plan: a switch to
DEFENSIVE_TRAIL only tightens its trailing percent (actors/exits/strategies.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from actors.base import SupervisedActor
from actors.exits.strategies import ExitPlan
from actors.exits.trailing import Trailing
from actors.messages import (
    STALE_AFTER_MS,
    MoveStop,
    PartialTakeProfitFilled,
    PolicyUpdated,
    PositionClosed,
    PositionOpened,
    Side,
    Stage,
    Step,
    StopMoved,
)
from config.profiles import ExitMode
from persistence.position_details import PositionDetails
from persistence.tables import POSITIONS
from state_machines import PositionState

# Holding a position on the exchange, with a stop to trail.
TRAILED_STATES = (PositionState.OPEN, PositionState.PARTIALLY_CLOSED)


class ExitsActor(SupervisedActor):
    name = "exits"

    def start_up(self) -> None:
        self.trailing: dict[str, Trailing] = {}
        self.symbols: dict[str, str] = {}
        self._reload()

    def _reload(self) -> None:
        """Open positions' plans from their rows, so a restart goes on trailing where it was."""
        with self.ctx.engine.connect() as connection:
            rows = connection.execute(select(POSITIONS).where(POSITIONS.c.state.in_(TRAILED_STATES))).mappings().all()
        for row in rows:
            details = PositionDetails.from_json(row["details"])
            if row["entry_price"] is None or row["stop_price"] is None:
                continue
            plan = ExitPlan(
                side=Side(row["side"]),
                entry_price=row["entry_price"],
                quantity=row["filled_quantity"],
                stop_price=row["stop_price"],
                take_profit_price=row["take_profit_price"] or row["entry_price"],
                risk_per_unit=details.risk_per_unit,
                trailing_pct=details.trailing_pct,
                trailing_start=details.trailing_start,
            )
            self.trailing[row["id"]] = Trailing(
                plan=plan,
                stop=row["stop_price"],
                best=row["entry_price"],
                partial_filled=row["state"] == PositionState.PARTIALLY_CLOSED,
            )
            self.symbols[row["id"]] = row["symbol"]

    def handle(self, message: Any) -> Any:
        match message:
            case Step(stage=Stage.PORTFOLIO):
                self._on_step(message)
            case PolicyUpdated():
                self._on_policy(message)
        return None

    def _on_step(self, step: Step) -> None:
        for event in step.events:
            self._on_event(event)
        # A step far behind the clock (a restart's warm-up) is history: trailing on its old highs and
        # lows would move live stops past today's price.
        live = self.ctx.clock.now_ms() - step.at <= STALE_AFTER_MS
        if self.trailing and step.candles and live:
            filters = dict(step.portfolio.filters) if step.portfolio else {}
            by_symbol = {c.symbol: c for c in step.candles}
            for position_id, trailing in self.trailing.items():
                candle = by_symbol.get(self.symbols[position_id])
                tick = filters.get(self.symbols[position_id])
                if candle is None or tick is None:
                    continue
                moved = trailing.on_range(Decimal(repr(candle.high)), Decimal(repr(candle.low)), tick.tick_size)
                if moved is not None:
                    self.tell("execution", MoveStop(position_id=position_id, stop_price=moved, reason="trailing stop"))
        self.pass_on(step)

    def _on_event(self, event: Any) -> None:
        match event:
            case PositionOpened():
                plan = ExitPlan(
                    side=event.side,
                    entry_price=event.entry_price,
                    quantity=event.quantity,
                    stop_price=event.stop_price,
                    take_profit_price=event.take_profit_price,
                    risk_per_unit=event.risk_per_unit,
                    partial_price=event.partial_price,
                    trailing_pct=event.trailing_pct,
                    trailing_start=event.trailing_start,
                )
                self.trailing[event.position_id] = Trailing(plan=plan, stop=event.stop_price, best=event.entry_price)
                self.symbols[event.position_id] = event.symbol
            case PartialTakeProfitFilled():
                if event.position_id in self.trailing:
                    self.trailing[event.position_id].partial_filled = True
            case PositionClosed():
                self.trailing.pop(event.position_id, None)
                self.symbols.pop(event.position_id, None)
            case StopMoved():
                if event.position_id in self.trailing:
                    self.trailing[event.position_id].moved(event.stop_price, event.moved)

    def _on_policy(self, update: PolicyUpdated) -> None:
        flags = self.ctx.settings.orchestrator.flags
        if not (update.enforced and flags.use_for_exit_mode) or update.policy.exit_mode is not ExitMode.DEFENSIVE_TRAIL:
            return
        tighter = self.ctx.settings.exit_modes[ExitMode.DEFENSIVE_TRAIL].trailing_pct
        for trailing in self.trailing.values():
            trailing.tighten(tighter)
