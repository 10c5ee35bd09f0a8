"""Where the inbox is read up to, durably: the one owner of the inbox cursor's row in `service_state`.

The cursor never passes a line whose signal may still lack its decision. A signal the signals actor hands on is
decided later in its step, by the orchestrator, risk or execution, each in a transaction of its own; so the
cursor saved with a step stops before the lines handed on in that step ("pending"), and moves past them at the
next step once their decisions are found in `signal_decisions`. A restart reads the inbox again from the cursor
and skips every id that has a decision (actors/signals/admission.py): a crash between any two of those
transactions neither decides a signal twice nor leaves one undecided. A pending line still without a decision
at the next step lost its step (an actor failed and the step was abandoned): it is handed on again.

The lines between the cursor and `read_to` were read before; `read_at` is when (the earliest of them), which
stays the time of those without an `at` when they are read again after a restart.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from actors.signals.inbox import InboxLine, InboxPoll, InboxPosition, InboxReader
from persistence import records

log = logging.getLogger("quantum_trader.signals")


# `service_state.name` is VARCHAR(64): PostgreSQL refuses a longer name, where SQLite stored it all the same.
NAME_LIMIT = 64


def cursor_name(path: Path) -> str:
    """The cursor's name in `service_state`: one per inbox file path. A path too long for the column is named by
    its digest and as much of its end as fits (the names that fit are the ones saved before, unchanged)."""
    resolved = str(path.resolve())
    name = f"inbox:{resolved}"
    if len(name) <= NAME_LIMIT:
        return name
    head = f"inbox:{hashlib.sha256(resolved.encode()).hexdigest()[:16]}:"
    return head + resolved[len(head) - NAME_LIMIT :]


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxCursor:
    position: InboxPosition  # every line before it is settled: decided, skipped as bad, or a reused id
    read_to: int  # the lines after `position` up to this byte offset were read before ...
    read_at: int  # ... first at this time

    def to_value(self) -> dict[str, Any]:
        return {**asdict(self.position), "read_to": self.read_to, "read_at": self.read_at}

    @classmethod
    def from_value(cls, value: Any) -> InboxCursor:
        """Raises ValueError when the saved value is not a cursor."""
        if not isinstance(value, dict):
            raise ValueError(f"not an object: {type(value).__name__}")
        numbers: dict[str, int] = {}
        for name in ("device", "inode", "offset", "line", "read_to", "read_at"):
            number = value.get(name)
            if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                raise ValueError(f"{name} is not a count: {number!r}")
            numbers[name] = number
        head, skipping = value.get("head"), value.get("skipping")
        if not isinstance(head, str) or not isinstance(skipping, bool):
            raise ValueError("head or skipping missing")
        position = InboxPosition(
            device=numbers["device"],
            inode=numbers["inode"],
            offset=numbers["offset"],
            line=numbers["line"],
            head=head,
            skipping=skipping,
        )
        return cls(position=position, read_to=numbers["read_to"], read_at=numbers["read_at"])


def load_cursor(connection: Connection, name: str) -> InboxCursor | None:
    value = records.load_state(connection, name)
    if value is None:
        return None
    try:
        return InboxCursor.from_value(value)
    except ValueError as error:
        # Safe to start over: every id decided before is skipped, so nothing is decided twice.
        log.warning("signal inbox cursor %s unreadable (%s); reading the inbox from its start", name, error)
        return None


def save_cursor(connection: Connection, name: str, cursor: InboxCursor, at: int) -> None:
    records.save_state(connection, name, cursor.to_value(), at)


class InboxLedger:
    """The inbox's lines from read to decided: the reader, the lines handed on whose decision is not known yet,
    and the cursor to save."""

    def __init__(self, path: Path, saved: InboxCursor | None) -> None:
        self.path = path
        self.saved = saved
        self.reader = (
            InboxReader(path)
            if saved is None
            else InboxReader(path, resume=saved.position, read_to=saved.read_to, read_at=saved.read_at)
        )
        self.pending: tuple[InboxLine, ...] = ()

    def poll(self, now: int) -> InboxPoll:
        return self.reader.poll(now)

    def hand_on(self, lines: tuple[InboxLine, ...]) -> None:
        """These lines' signals go on to be decided in this step."""
        self.pending = lines

    def cursor(self) -> InboxCursor | None:
        """The cursor as it stands: before the first pending line of the file read now."""
        position = self.reader.position()
        if position is None:
            return self.saved  # the file was never found: nothing moved
        pending = [line for line in self.pending if line.file == position.file]
        read_to, read_at = self.reader.offset, 0
        if pending:
            first = min(pending, key=lambda line: line.start)
            position = self.reader.position_at(first)
            read_at = min(line.read_at for line in pending)
        rereading = self.reader.rereading()
        if rereading is not None:  # lines read before a restart are still ahead: they keep their read time
            read_to = rereading[0]
            read_at = min(read_at, rereading[1]) if pending else rereading[1]
        return InboxCursor(position=position, read_to=read_to, read_at=read_at)

    def to_save(self) -> InboxCursor | None:
        """The cursor when it moved since it was last saved (`saved_as` once it is committed), else None."""
        cursor = self.cursor()
        if cursor is None or cursor == self.saved:
            return None
        return cursor

    def saved_as(self, cursor: InboxCursor) -> None:
        self.saved = cursor
