"""The user's signal inbox: a JSON-lines file, one signal per line.

    {"symbol": "BTCUSDT", "side": "LONG", "confidence": 0.72, "id": "optional", "at": 1700000000000}

Rules:

* `symbol`: a string, upper-cased, `[A-Z0-9]{2,30}`; `side`: LONG or SHORT (any case);
  `confidence`: a finite number in [0, 1] (not a boolean); `id`: optional non-empty
  string of at most 64 characters; `at`: optional integer UTC milliseconds >= 0,
  else the poll's `now` (the injected clock; nothing here reads the wall clock).
  Other keys are ignored, so a newer writer does not break an older reader.
* Blank lines are skipped silently; every other bad line is reported as
  (line number, reason) and skipped: a typo never stops the service.
* Without an `id`, the id is `inbox-<byte offset>-<sha1 of the line, 10 hex>`: the
  same line read again (a re-poll after a crash) gets the same id, so downstream
  de-duplication works, while two identical lines at different places stay two
  signals.
* `InboxReader` remembers the byte offset of the first unread line: a poll reads
  only complete new lines (a last line without its newline waits for the next
  poll). A file that shrank (truncated) or was replaced (another inode: rotated)
  is read again from the start, with line numbers from 1.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from actors.messages import Side, Signal

SOURCE = "inbox"
_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")
MAX_ID_LENGTH = 64


class InboxLineError(ValueError):
    """Why one inbox line is not a signal."""


@dataclass(frozen=True, slots=True)
class InboxPoll:
    signals: tuple[Signal, ...]
    errors: tuple[tuple[int, str], ...]  # (line number, reason)


def parse_inbox_line(text: str, *, now: int, offset: int = 0) -> Signal:
    """One line to a `Signal`; raises `InboxLineError` with the reason."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InboxLineError(f"not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InboxLineError("not a JSON object")
    symbol = data.get("symbol")
    if not isinstance(symbol, str) or not _SYMBOL.match(symbol.strip().upper()):
        raise InboxLineError(f"bad symbol: {symbol!r}")
    side = data.get("side")
    if not isinstance(side, str) or side.strip().upper() not in Side.__members__:
        raise InboxLineError(f"bad side: {side!r} (LONG or SHORT)")
    confidence = data.get("confidence")
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, (int, float))
        or not math.isfinite(confidence)
        or not 0.0 <= confidence <= 1.0
    ):
        raise InboxLineError(f"bad confidence: {confidence!r} (a number in [0, 1])")
    signal_id = data.get("id")
    if signal_id is None:
        digest = hashlib.sha1(text.strip().encode("utf-8")).hexdigest()[:10]
        signal_id = f"{SOURCE}-{offset}-{digest}"
    elif not isinstance(signal_id, str) or not signal_id.strip() or len(signal_id) > MAX_ID_LENGTH:
        raise InboxLineError(f"bad id: {signal_id!r} (a non-empty string of at most {MAX_ID_LENGTH})")
    at = data.get("at", now)
    if isinstance(at, float) and at.is_integer():
        at = int(at)
    if isinstance(at, bool) or not isinstance(at, int) or at < 0:
        raise InboxLineError(f"bad at: {at!r} (integer milliseconds)")
    return Signal(
        id=signal_id.strip(),
        at=at,
        symbol=symbol.strip().upper(),
        side=Side(side.strip().upper()),
        confidence=float(confidence),
        source=SOURCE,
    )


def parse_inbox_lines(lines: list[str], *, now: int, first_line: int = 1) -> InboxPoll:
    """Parse already-split lines (no offsets known: ids of id-less lines use the line number)."""
    signals: list[Signal] = []
    errors: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        try:
            signals.append(parse_inbox_line(line, now=now, offset=number))
        except InboxLineError as exc:
            errors.append((number, str(exc)))
    return InboxPoll(tuple(signals), tuple(errors))


class InboxReader:
    """Polls one inbox file for new complete lines."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self.line_number = 0  # lines consumed so far
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file read

    def poll(self, now: int) -> InboxPoll:
        try:
            with self.path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                identity = (stat.st_dev, stat.st_ino)
                if identity != self._identity or stat.st_size < self.offset:
                    self._restart(identity)
                handle.seek(self.offset)
                chunk = handle.read()
        except FileNotFoundError:
            return InboxPoll((), ())  # no inbox yet: nothing to say; it may appear later
        end = chunk.rfind(b"\n") + 1  # a last line without its newline is still being written
        signals: list[Signal] = []
        errors: list[tuple[int, str]] = []
        position = self.offset
        # Split on b"\n" only: a stray \r inside a line must not shift the line numbers.
        for raw in chunk[:end].split(b"\n")[:-1]:
            self.line_number += 1
            line_offset, position = position, position + len(raw) + 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                errors.append((self.line_number, "not UTF-8"))
                continue
            if not text.strip():
                continue
            try:
                signals.append(parse_inbox_line(text, now=now, offset=line_offset))
            except InboxLineError as exc:
                errors.append((self.line_number, str(exc)))
        self.offset += end
        return InboxPoll(tuple(signals), tuple(errors))

    def _restart(self, identity: tuple[int, int]) -> None:
        self._identity = identity
        self.offset = 0
        self.line_number = 0
