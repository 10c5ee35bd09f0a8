"""The injected clock: wall time for `run`, virtual time for `replay` and tests.

Nothing else in the service reads the wall clock, so a replay is deterministic.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

DAY_MS = 86_400_000


class Clock(Protocol):
    def now_ms(self) -> int:
        """UTC milliseconds."""
        ...


class WallClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class VirtualClock:
    """Moved by the driver (to each candle step's close time); never goes backwards."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        return self._now

    def advance_to(self, at_ms: int) -> None:
        with self._lock:
            if at_ms > self._now:
                self._now = at_ms


def next_utc_midnight(at_ms: int) -> int:
    return (at_ms // DAY_MS + 1) * DAY_MS


def utc_day(at_ms: int) -> int:
    return at_ms // DAY_MS
