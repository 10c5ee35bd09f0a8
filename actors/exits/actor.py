"""The exit actor: trails stops and carries the exit mode in force to open positions; stop-loss and take-profit rest
on the exchange.

A change toward a more defensive mode (TREND_FOLLOW -> FAST_TP -> DEFENSIVE_TRAIL) reaches every open position that
follows a less defensive one: its stop moves to the new mode's when that is in its favour, its take-profit comes
closer when the new one is, its trailing tightens (actors/exits/strategies.py `tighten_to_mode`); execution applies
it and records it as the position's transition. A change toward a less defensive mode leaves open positions as
they are. Only on live steps: a restart's warm-up replays old policies that are not today's.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from actors.base import SupervisedActor
from actors.exits.strategies import ExitPlan, tighten_to_mode
from actors.exits.trailing import Trailing
from actors.messages import (
    STALE_AFTER_MS,
    ExitModeChange,
    MoveStop,
    PartialTakeProfitFilled,
    PolicyUpdated,
    PositionClosed,
    PositionOpened,
    Side,
    Stage,
    Step,
    StopMoved,
    SymbolFilters,
    exit_mode_in_force,
)
from config.profiles import ExitMode
from persistence import records
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
        self.atr: dict[str, float] = {}
        self.filters: dict[str, SymbolFilters] = {}
        # The portfolio's filters last merged into `filters`: execution hands on the same tuple until they change,
        # and a tuple seen already has nothing new.
        self.filters_seen: tuple[tuple[str, SymbolFilters], ...] = ()
        self.live = False  # the last step was today's, not history
        self.why = "the last policy recorded"
        with self.ctx.engine.connect() as connection:
            self.mode = self._in_force(records.latest_policy_exit_mode(connection), enforced=True)
        self._reload()

    def _in_force(self, policy_mode: ExitMode | None, *, enforced: bool) -> ExitMode:
        flags = self.ctx.settings.orchestrator.flags
        return exit_mode_in_force(
            policy_mode, enforced=enforced and flags.enforcing, use_for_exit_mode=flags.use_for_exit_mode
        )

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
                exit_mode=ExitMode(row["exit_mode"]),
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
        for snapshot in step.snapshots:
            self.atr[snapshot.symbol] = snapshot.atr
        if step.portfolio is not None and step.portfolio.filters is not self.filters_seen:
            self.filters_seen = step.portfolio.filters
            self.filters.update(self.filters_seen)
        # A step far behind the clock (a restart's warm-up) is history: trailing on its old highs and
        # lows would move live stops past today's price.
        self.live = self.ctx.clock.now_ms() - step.at <= STALE_AFTER_MS
        if self.live and self.trailing:  # without a position there is nothing to trail, nor a mode to carry
            self._trail(step)
            self._carry_mode()  # also what was not done yet: a refused move, a position opened under an older mode
        self.pass_on(step)

    def _trail(self, step: Step) -> None:
        by_symbol = {c.symbol: c for c in step.candles}
        for position_id, trailing in self.trailing.items():
            symbol = self.symbols[position_id]
            candle, filters = by_symbol.get(symbol), self.filters.get(symbol)
            if candle is None or filters is None:
                continue
            moved = trailing.on_range(Decimal(repr(candle.high)), Decimal(repr(candle.low)), filters.tick_size)
            if moved is not None:
                self.tell("execution", MoveStop(position_id=position_id, stop_price=moved, reason="trailing stop"))

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
                self.trailing[event.position_id] = Trailing(
                    plan=plan, stop=event.stop_price, best=event.entry_price, exit_mode=event.exit_mode
                )
                self.symbols[event.position_id] = event.symbol
            case PartialTakeProfitFilled():
                if event.position_id in self.trailing:
                    self.trailing[event.position_id].partial_filled = True
            case PositionClosed():
                self.trailing.pop(event.position_id, None)
                self.symbols.pop(event.position_id, None)
            case StopMoved():
                if event.position_id in self.trailing:
                    self.trailing[event.position_id].answered(event)

    def _on_policy(self, update: PolicyUpdated) -> None:
        mode = self._in_force(update.policy.exit_mode, enforced=update.enforced)
        if mode is not self.mode:
            self.mode, self.why = mode, update.policy.note or "policy changed"
        if self.live:  # at once: the next candle may be an hour away, and the old stop may be hit meanwhile
            self._carry_mode()

    def _carry_mode(self) -> None:
        """Ask execution to tighten each open position that follows a less defensive mode than the one in force."""
        params = self.ctx.settings.exit_modes[self.mode]
        for position_id, trailing in self.trailing.items():
            symbol = self.symbols[position_id]
            filters, atr = self.filters.get(symbol), self.atr.get(symbol, math.nan)
            # Without an ATR yet (the first candles after a start with no history) the new mode's stop is not known:
            # the change waits for it rather than fall back on the mode's cap, which would tighten nothing.
            if trailing.follows(self.mode) or trailing.waiting or filters is None or not atr > 0:
                continue
            tightened = tighten_to_mode(trailing.plan, trailing.stop, params, atr, filters)
            change = ExitModeChange(
                exit_mode=self.mode,
                take_profit_price=tightened.take_profit_price,
                trailing_pct=tightened.trailing_pct,
                trailing_start=tightened.trailing_start,
            )
            trailing.ask_change(change)
            reason = f"exit mode {trailing.exit_mode} -> {self.mode} ({self.why})"
            self.tell(
                "execution",
                MoveStop(position_id=position_id, stop_price=tightened.stop_price, reason=reason, mode_change=change),
            )
