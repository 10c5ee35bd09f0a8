"""Per-position trailing state kept by the exit actor: the best price, the stop resting, the exit mode. Pure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from actors.exits.strategies import ExitPlan, trail_stop, trailing_active
from actors.messages import ExitModeChange, Side, StopMoved
from config.profiles import ExitMode

# The stop is moved only when the trailed level improves by at least this share of the
# trailing distance: every tick of improvement would cancel and replace an order per candle.
MIN_MOVE_SHARE = Decimal("0.25")


@dataclass(slots=True)
class Trailing:
    plan: ExitPlan
    stop: Decimal
    best: Decimal
    exit_mode: ExitMode
    partial_filled: bool = False
    asked: Decimal | None = None  # a move asked of execution and not answered yet
    changing: ExitModeChange | None = None  # a change of exit mode asked of execution and not answered yet

    @property
    def waiting(self) -> bool:
        """A command to execution is unanswered: nothing more is asked until it is (both may move the stop)."""
        return self.asked is not None or self.changing is not None

    def on_range(self, high: Decimal, low: Decimal, tick: Decimal) -> Decimal | None:
        """Follow a candle's range; the new stop to ask execution for if it should move now (only ever in favour).
        The stop counts as moved once execution says it rests (`answered`)."""
        side = self.plan.side
        self.best = max(self.best, high) if side is Side.LONG else min(self.best, low)
        if not trailing_active(self.plan, self.best, self.partial_filled):
            return None
        candidate = trail_stop(side, self.stop, self.best, self.plan.trailing_pct, tick)
        minimum = self.best * Decimal(repr(self.plan.trailing_pct)) * MIN_MOVE_SHARE
        if self.waiting or (candidate - self.stop) * side.sign < max(minimum, tick):
            return None
        self.asked = candidate
        return candidate

    def follows(self, mode: ExitMode) -> bool:
        """True when `mode` asks nothing of this position: it is no more defensive than the position's own (a change
        toward a less defensive mode leaves open positions as they are)."""
        return mode.defensiveness <= self.exit_mode.defensiveness

    def ask_change(self, change: ExitModeChange) -> None:
        self.changing = change

    def moved(self, stop: Decimal, done: bool) -> None:
        """Execution's answer to a trailing move: the stop resting now; a move not done is asked again at the next
        candle."""
        self.asked = None
        if done:
            self.stop = stop

    def answered(self, answer: StopMoved) -> None:
        """Execution's answer to either command: the stop resting now and, for a change of exit mode, whether it
        was applied (one that was not is asked again at the next step)."""
        self.moved(answer.stop_price, answer.moved)
        change, self.changing = self.changing, None
        if change is None or answer.exit_mode is not change.exit_mode:
            return
        self.exit_mode = change.exit_mode
        self.plan = replace(
            self.plan,
            take_profit_price=answer.take_profit_price or self.plan.take_profit_price,
            trailing_pct=change.trailing_pct,
            trailing_start=change.trailing_start,
        )
