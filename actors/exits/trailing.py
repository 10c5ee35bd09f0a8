"""Per-position trailing state kept by the exit actor. Pure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from actors.exits.strategies import ExitPlan, trail_stop, trailing_active
from actors.messages import Side

# The stop is moved only when the trailed level improves by at least this share of the
# trailing distance: every tick of improvement would cancel and replace an order per candle.
MIN_MOVE_SHARE = Decimal("0.25")


@dataclass(slots=True)
class Trailing:
    plan: ExitPlan
    stop: Decimal
    best: Decimal
    partial_filled: bool = False
    asked: Decimal | None = None  # a move asked of execution and not answered yet

    def on_range(self, high: Decimal, low: Decimal, tick: Decimal) -> Decimal | None:
        """Follow a candle's range; the new stop to ask execution for if it should move now (only ever in favour).
        The stop counts as moved once execution says it rests (`moved`)."""
        side = self.plan.side
        self.best = max(self.best, high) if side is Side.LONG else min(self.best, low)
        if not trailing_active(self.plan, self.best, self.partial_filled):
            return None
        candidate = trail_stop(side, self.stop, self.best, self.plan.trailing_pct, tick)
        minimum = self.best * Decimal(repr(self.plan.trailing_pct)) * MIN_MOVE_SHARE
        if self.asked is not None or (candidate - self.stop) * side.sign < max(minimum, tick):
            return None
        self.asked = candidate
        return candidate

    def moved(self, stop: Decimal, done: bool) -> None:
        """Execution's answer: the stop resting now; a move not done is asked again at the next candle."""
        self.asked = None
        if done:
            self.stop = stop

    def tighten(self, trailing_pct: float) -> None:
        if trailing_pct < self.plan.trailing_pct:
            self.plan = replace(self.plan, trailing_pct=trailing_pct)
