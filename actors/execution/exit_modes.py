"""A change to a more defensive exit mode, applied to one open position: its stop moved in its favour, its take-profit
brought closer, its trailing tightened, and the change recorded as the position's `change_exit_mode` transition with
the reason. What to ask is the exit actor's (actors/exits/strategies.py `tighten_to_mode`); what rests is checked here
again, so nothing is ever loosened whatever was asked."""

from __future__ import annotations

import logging
from decimal import Decimal

from actors.execution.book import Book, LivePosition
from actors.execution.closing import LIVE_EXIT_STATES
from actors.execution.ids import Purpose
from actors.execution.journal import Journal
from actors.execution.protection import Protection
from actors.messages import MoveStop, StopMoved

log = logging.getLogger("quantum_trader.execution")


class ExitModes:
    def __init__(self, book: Book, journal: Journal, protection: Protection) -> None:
        self.book, self.journal, self.protection = book, journal, protection

    def apply(self, command: MoveStop) -> StopMoved | None:
        """Apply `command.mode_change` to its position; the answer says what rests now and, when the change is
        recorded, the mode the position follows (None: the position is gone). A move that did not happen leaves the
        mode as it was, so the exit actor asks again; one that found its price already crossed closes the position."""
        change = command.mode_change
        assert change is not None
        position = self.book.get(command.position_id)
        if position is None:
            return None
        if not _holds(position) or position.stop_price is None:
            return StopMoved(position_id=position.id, stop_price=position.stop_price or command.stop_price, moved=False)
        why = command.reason
        sign = position.side.sign
        before = (position.stop_price, position.take_profit_price, position.trailing_pct, self._trailing_from(position))
        stop_moved = False
        if (command.stop_price - position.stop_price) * sign > 0:
            stop_moved = self.protection.replace_resting(
                position, Purpose.STOP, command.stop_price, crossed=f"stop-loss already crossed on {why}"
            )
            if not stop_moved or not _holds(position):
                return self._answer(position, stop_moved, recorded=False)
        target, resting_target = change.take_profit_price, position.take_profit_price
        if target is not None and resting_target is not None and (resting_target - target) * sign > 0:
            placed = self.protection.replace_resting(
                position, Purpose.TAKE_PROFIT, target, crossed=f"take-profit already crossed on {why}"
            )
            if not placed or not _holds(position):
                return self._answer(position, stop_moved, recorded=False)
        previous_mode = position.exit_mode
        position.exit_mode = change.exit_mode
        if position.trailing_pct <= 0 or change.trailing_pct < position.trailing_pct:
            position.trailing_pct = change.trailing_pct
        position.trailing_start = min(self._trailing_from(position), change.trailing_start)
        after = (position.stop_price, position.take_profit_price, position.trailing_pct, position.trailing_start)
        self.journal.fire(
            position,
            "change_exit_mode",
            reason=f"{why}: {_describe(before, after)}",
            changes=dict(
                exit_mode=str(position.exit_mode),
                stop_price=position.stop_price,
                take_profit_price=position.take_profit_price,
                details=position.details(),
            ),
            from_mode=str(previous_mode),
            to_mode=str(position.exit_mode),
            stop=[before[0], after[0]],
            take_profit=[before[1], after[1]],
            trailing_pct=[before[2], after[2]],
            trailing_start=[before[3], after[3]],
        )
        return self._answer(position, stop_moved, recorded=True)

    @staticmethod
    def _trailing_from(position: LivePosition) -> Decimal:
        """Where trailing starts, in favour of the entry (a position planned before the modes had their own: 1R)."""
        return position.trailing_start if position.trailing_start > 0 else position.risk_per_unit

    @staticmethod
    def _answer(position: LivePosition, stop_moved: bool, *, recorded: bool) -> StopMoved:
        assert position.stop_price is not None
        return StopMoved(
            position_id=position.id,
            stop_price=position.stop_price,
            moved=stop_moved,
            take_profit_price=position.take_profit_price,
            exit_mode=position.exit_mode if recorded else None,
        )


def _holds(position: LivePosition) -> bool:
    return position.state in LIVE_EXIT_STATES and position.open_quantity > 0


Exits = tuple[Decimal | None, Decimal | None, float, Decimal]


def _describe(before: Exits, after: Exits) -> str:
    """What the change did to each part, for the transition's reason."""
    names = ("stop", "take-profit", "trailing", "trailing from")
    parts = []
    for name, old, new in zip(names, before, after, strict=True):
        shown_old, shown_new = (f"{old:.4%}", f"{new:.4%}") if isinstance(old, float) else (str(old), str(new))
        parts.append(f"{name} {shown_old} -> {shown_new}" if old != new else f"{name} kept at {shown_old}")
    return ", ".join(parts)
