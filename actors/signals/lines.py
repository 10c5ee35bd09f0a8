"""One line of the user's signal inbox to a `Signal`: the format and its rules. Pure.

    {"symbol": "BTCUSDT", "side": "LONG", "confidence": 0.72, "id": "optional", "at": 1700000000000}

* `symbol`: a string, upper-cased, `[A-Z0-9]{2,30}`; `side`: LONG or SHORT (any case);
  `confidence`: a finite number in [0, 1] (not a boolean).
* `id` (optional): 1 to 64 characters of `[A-Za-z0-9._:-]`, not starting with `builtin-`, `strategy-` or
  `inbox-` (the strategies' ids and the inbox's own). Ids reach logs, the database and the command line's tables:
  nothing else (newlines, ANSI codes, Rich markup such as `[/]`) can ride along.
* `at` (optional): integer UTC milliseconds >= 0, at most a minute ahead of the clock (a time in seconds or
  microseconds is an error, not a signal from 1970 or the year 55,000); without it, the time the line was
  first read, also when it is read again after a restart (the injected clock; nothing here reads the wall
  clock).
* Other keys are ignored, so a newer writer does not break an older reader.
* Without an `id`, the id is `inbox-<byte offset>-<sha1 of the line, 10 hex>`: the same line read again (after
  a restart) gets the same id, and two identical lines at different places stay two signals.

A bad line raises `InboxLineError`; its message shows what the line held only through `shown` (ASCII, escaped,
cut short), so a log line never carries the user's control codes.
"""

from __future__ import annotations

import hashlib
import json
import math
import re

from actors.messages import Side, Signal

SOURCE = "inbox"
MAX_ID_LENGTH = 64
MAX_CLOCK_SKEW_MS = 60_000  # how far ahead of the clock a signal's `at` may be
RESERVED_ID_PREFIXES = ("builtin-", f"{SOURCE}-", "strategy-")  # the strategies' ids: actors/signals/runner.py
_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")
_ID = re.compile(rf"^[A-Za-z0-9._:-]{{1,{MAX_ID_LENGTH}}}$")
_SHOWN = 40


class InboxLineError(ValueError):
    """Why one inbox line is not a signal."""


def shown(value: object) -> str:
    """A user-supplied value as a log line may show it: ASCII only, escaped, at most 40 characters."""
    text = ascii(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def parse_inbox_line(text: str, *, now: int, offset: int = 0, read_at: int | None = None) -> Signal:
    """One line to a `Signal`, or `InboxLineError` with the reason. `read_at`: when the line was first read, the
    signal's time when it has no `at` (default `now`, the clock)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InboxLineError(f"not JSON: {exc.msg}") from None
    except RecursionError:
        raise InboxLineError("not JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise InboxLineError("not a JSON object")
    symbol = data.get("symbol")
    if not isinstance(symbol, str) or not _SYMBOL.match(symbol.strip().upper()):
        raise InboxLineError(f"bad symbol: {shown(symbol)}")
    side = data.get("side")
    if not isinstance(side, str) or side.strip().upper() not in Side.__members__:
        raise InboxLineError(f"bad side: {shown(side)} (LONG or SHORT)")
    confidence = data.get("confidence")
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, (int, float))
        or not math.isfinite(confidence)
        or not 0.0 <= confidence <= 1.0
    ):
        raise InboxLineError(f"bad confidence: {shown(confidence)} (a number in [0, 1])")
    return Signal(
        id=_signal_id(data.get("id"), text, offset),
        at=_signal_at(data.get("at", now if read_at is None else read_at), now),
        symbol=symbol.strip().upper(),
        side=Side(side.strip().upper()),
        confidence=float(confidence),
        source=SOURCE,
    )


def _signal_id(value: object, text: str, offset: int) -> str:
    if value is None:
        digest = hashlib.sha1(text.strip().encode("utf-8")).hexdigest()[:10]
        return f"{SOURCE}-{offset}-{digest}"
    if not isinstance(value, str) or not _ID.match(value.strip()):
        raise InboxLineError(f"bad id: {shown(value)} (1 to {MAX_ID_LENGTH} characters of A-Z a-z 0-9 . _ : -)")
    signal_id = value.strip()
    if signal_id.startswith(RESERVED_ID_PREFIXES):
        raise InboxLineError(
            f"bad id: {shown(signal_id)} (ids starting {' or '.join(RESERVED_ID_PREFIXES)} are the service's own)"
        )
    return signal_id


def _signal_at(value: object, now: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InboxLineError(f"bad at: {shown(value)} (integer UTC milliseconds)")
    if value > now + MAX_CLOCK_SKEW_MS:
        raise InboxLineError(
            f"bad at: {value} is more than {MAX_CLOCK_SKEW_MS // 1000}s ahead of the clock (UTC milliseconds?)"
        )
    return value
