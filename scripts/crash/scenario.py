"""What every part of the crash test shares: the fake account, the symbols, the position states, the pacing."""

from __future__ import annotations

import sys
from decimal import Decimal

KEY, SECRET = "qt-crash-key-5b1e07", "qt-crash-secret-c93d44"
PREFIX = "qt"
MINUTE = 60_000
CYCLE_S = 0.5
START_PRICES = {
    "BTCUSDT": Decimal(40000),
    "ETHUSDT": Decimal(2500),
    "BNBUSDT": Decimal(300),
    "SOLUSDT": Decimal(150),
    "LTCUSDT": Decimal(90),
    "AVAXUSDT": Decimal(35),
    "LINKUSDT": Decimal(15),
    "DOTUSDT": Decimal(7),
}
SYMBOLS = tuple(START_PRICES)
FINAL = ("closed", "rejected", "cancelled")
OPEN_STATES = ("open", "partially_closed", "closing")
ENTRY_STATES = ("pending_entry", "entry_submitted", "unknown")
STEP_TIMEOUT_S = 30.0
MAX_STEPS_PER_ROUND = 150
# After this share of the steps the feed stays quiet for one policy cycle: the service's timer ticks, and only such a
# tick reads the signal inbox (the test's candles are hours old, too far behind the clock for that). Without these
# pauses no signal is read while a round trades, and an order or log kill armed for an entry never comes.
CYCLE_CHANCE = 0.15


def say(text: str) -> None:
    """Progress goes to stderr: stdout's last line is the result."""
    print(text, file=sys.stderr, flush=True)
