"""Protections beyond the day (DESIGN.md "drawdown beyond the day"): freqtrade's MaxDrawdown, StoplossGuard and
CooldownPeriod in this service's terms. Pure: every time is an argument (the injected clock's), no I/O.

- Max drawdown: equity `max_drawdown_pct` (the profile's) or more under its peak of the last
  `risk.drawdown_window_days` halts the gate, and only an operator reopens it. An operator's resume takes the
  account as it stands: the peak is measured from then on, or the same loss would halt it again a cycle later.
- Equity floor: below `risk.equity_floor_usd` nothing is sized, and the gate pauses until equity is back above.
- Cool-down: a symbol stopped out `risk.cooldown_after_stop_outs` times within `risk.cooldown_window_h` takes no
  new entry for `risk.cooldown_h` after the last of them. A stop-out is a close by the stop-loss or the trailing
  stop at a net loss; a trailing stop that kept a gain is the exit doing its job.

Shared by the orchestrator (the gate and its reasons) and risk (nothing sized below the floor), like rounding.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from config.sections import RiskSettings

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
NEVER = 2**62  # UTC ms beyond any clock

# Gate reasons start with these words (figures follow in parentheses), so the report counts them by cause.
MAX_DRAWDOWN_REASON = "Max drawdown from the equity peak hit"
EQUITY_FLOOR_REASON = "Equity below the floor"
COOLING_DOWN = "cooling down"

STOP_OUT_REASONS = frozenset({"stop-loss", "trailing stop"})  # close reasons of execution's stop fills


class EquityPeak:
    """The highest equity of the last `window_ms`: a queue of ever smaller equities, each the highest since
    its own time, so a step costs O(1) on average however long the window."""

    def __init__(self, window_ms: int) -> None:
        if window_ms <= 0:
            raise ValueError(f"the peak's window must be positive, got {window_ms} ms")
        self.window_ms = window_ms
        self._queue: deque[tuple[int, Decimal]] = deque()

    @classmethod
    def from_settings(cls, risk: RiskSettings) -> EquityPeak:
        return cls(round(risk.drawdown_window_days * DAY_MS))

    def add(self, at: int, equity: Decimal) -> None:
        while self._queue and self._queue[-1][1] <= equity:
            self._queue.pop()  # never the peak again: a later equity is at least as high
        self._queue.append((at, equity))

    def peak(self, now: int) -> Decimal | None:
        """The highest equity added within the window ending `now`; None when there is none."""
        while self._queue and self._queue[0][0] <= now - self.window_ms:
            self._queue.popleft()
        return self._queue[0][1] if self._queue else None

    def drawdown(self, now: int, equity: Decimal) -> float:
        """`equity` against the window's peak as a signed fraction (-0.12: 12% under it); 0 without a peak."""
        peak = self.peak(now)
        if peak is None or peak <= 0:
            return 0.0
        return min(float(equity / peak - 1), 0.0)

    def restart(self) -> None:
        """An operator resumed: the equity from now on is the new reference."""
        self._queue.clear()


def max_drawdown_hit(drawdown_pct: float, limit_pct: float) -> bool:
    # As with the daily limit, touching it counts.
    return drawdown_pct <= -limit_pct


def max_drawdown_reason(drawdown_pct: float, limit_pct: float) -> str:
    return f"{MAX_DRAWDOWN_REASON} ({drawdown_pct:.2%}, limit {limit_pct * 100:g}%): only an operator resumes"


def floor_breach(equity: Decimal, floor: Decimal) -> str:
    """Why nothing may be sized at this equity (the gate's reason too), or "" when it is at or above the floor;
    a floor of 0 is none."""
    if floor <= 0 or equity >= floor:
        return ""
    return f"{EQUITY_FLOOR_REASON} ({equity:.2f} < {floor} USDT): nothing is sized"


def is_stop_out(close_reason: str | None, net_pnl: Decimal) -> bool:
    return close_reason in STOP_OUT_REASONS and net_pnl < 0


@dataclass(frozen=True, slots=True)
class Cooldown:
    symbol: str
    until: int  # UTC ms: new entries in the symbol wait until then
    stop_outs: int  # within the window that started it
    window_h: float

    def describe(self) -> str:
        until = _minute_text(self.until)
        return f"{self.symbol} {COOLING_DOWN} until {until} ({self.stop_outs} stop-outs within {self.window_h:g}h)"


@lru_cache(maxsize=64)
def _minute_text(at: int) -> str:
    # A cool-down is described on every step it lasts, its end the same each time: formatted once.
    return datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


class StopOutGuard:
    """Each symbol's recent stop-outs, and the cool-downs they start.

    The cool-downs in force change only with a stop-out recorded or one of them running out, so they are worked out
    again only then (or should `now` go back), not on every step."""

    def __init__(self, *, limit: int, window_ms: int, cooldown_ms: int) -> None:
        if limit < 1 or window_ms <= 0 or cooldown_ms <= 0:
            raise ValueError(f"a cool-down needs a limit >= 1 and positive times ({limit}, {window_ms}, {cooldown_ms})")
        self.limit, self.window_ms, self.cooldown_ms = limit, window_ms, cooldown_ms
        self._times: dict[str, list[int]] = {}
        self._found: tuple[Cooldown, ...] = ()
        self._found_from = 0  # `_found` holds from this time until `_found_until` (exclusive)
        self._found_until = -1  # -1: worked out before the last stop-out recorded, so worked out again

    @classmethod
    def from_settings(cls, risk: RiskSettings) -> StopOutGuard:
        return cls(
            limit=risk.cooldown_after_stop_outs,
            window_ms=round(risk.cooldown_window_h * HOUR_MS),
            cooldown_ms=round(risk.cooldown_h * HOUR_MS),
        )

    @property
    def lookback_ms(self) -> int:
        """How far back a stop-out can still matter: a cool-down it helped start may still run."""
        return self.window_ms + self.cooldown_ms

    def record(self, symbol: str, at: int) -> None:
        bisect.insort(self._times.setdefault(symbol, []), at)
        self._found_until = -1

    def cooldowns(self, now: int) -> tuple[Cooldown, ...]:
        """The cool-downs in force at `now`, by symbol."""
        if self._found_from <= now < self._found_until:
            return self._found
        # Pruning at `now` forgets only stop-outs too old to take part in a cool-down in force from `now` on.
        found = []
        for symbol in sorted(self._times):
            times = self._times[symbol]
            del times[: bisect.bisect_left(times, now - self.lookback_ms)]
            cooldown = self._latest(symbol, times)
            if cooldown is not None and cooldown.until > now:
                found.append(cooldown)
        self._found, self._found_from = tuple(found), now
        # Until the first of them runs out; none in force stays so until the next stop-out.
        self._found_until = min((cooldown.until for cooldown in found), default=NEVER)
        return self._found

    def _latest(self, symbol: str, times: list[int]) -> Cooldown | None:
        # The latest stop-out that completes `limit` within the window starts the cool-down that ends last.
        for last in range(len(times) - 1, self.limit - 2, -1):
            if times[last] - times[last - self.limit + 1] <= self.window_ms:
                within = last + 1 - bisect.bisect_left(times, times[last] - self.window_ms)
                return Cooldown(symbol, times[last] + self.cooldown_ms, within, self.window_ms / HOUR_MS)
        return None
