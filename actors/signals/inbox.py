"""The user's signal inbox: a JSON-lines file (the format: actors/signals/lines.py), read as it grows.

* A poll reads only complete lines (a last line without its newline waits for the next poll), at most
  `MAX_READ_BYTES` of them, each at most `MAX_LINE_BYTES`: a longer line is reported once and skipped up to its
  newline, also one still being written, so a tail without a newline costs at most `MAX_LINE_BYTES` a poll and
  is reported once when it waits for its newline for longer than `UNTERMINATED_NOTICE_MS`.
* Blank lines are skipped silently; every other bad line is reported as (line number, reason) and skipped: a
  typo never stops the service.
* Where the reader stands is an `InboxPosition`: the file's identity (device, inode), the byte offset and line
  number, and a digest of the file's first bytes. A file that shrank (truncated), was replaced (another inode:
  rotated) or rewritten in place (its first bytes differ) is read again from the start, with line numbers from 1.
  A position saved before a restart (actors/signals/cursor.py) is resumed under the same checks.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from actors.messages import Signal
from actors.signals.lines import InboxLineError, parse_inbox_line

HEAD_BYTES = 256
MAX_LINE_BYTES = 4096
MAX_READ_BYTES = 256 * 1024
UNTERMINATED_NOTICE_MS = 30_000

FileId = tuple[int, int]  # (device, inode)


def _digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxPosition:
    """A place in one inbox file: what a restart resumes from."""

    device: int
    inode: int
    offset: int  # bytes before the next line to read
    line: int  # lines before it
    head: str  # sha1 of the file's first min(offset, HEAD_BYTES) bytes: a file rewritten in place is noticed
    skipping: bool = False  # inside an over-long line (reported already): its bytes up to the newline are skipped

    @property
    def file(self) -> FileId:
        return (self.device, self.inode)


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxLine:
    """A signal as read from the inbox, with where it was and when it was first read."""

    signal: Signal
    file: FileId
    start: int  # byte offset of the line
    number: int  # its line number, from 1
    read_at: int
    reread: bool = False  # read before a restart too: its id having a decision is no reuse, just the same line


@dataclass(frozen=True, slots=True)
class InboxPoll:
    lines: tuple[InboxLine, ...]
    errors: tuple[tuple[int, str], ...]  # (line number, reason): lines skipped
    notices: tuple[tuple[int, str], ...] = ()  # (line number, what it waits for)

    @property
    def signals(self) -> tuple[Signal, ...]:
        return tuple(line.signal for line in self.lines)


class InboxReader:
    """Polls one inbox file for new complete lines.

    `resume`: the position saved before a restart; `read_to` and `read_at`: the lines from there up to byte
    `read_to` were read before the restart, first at `read_at`, which stays their time when they have no `at`.
    """

    def __init__(
        self, path: str | Path, *, resume: InboxPosition | None = None, read_to: int = 0, read_at: int = 0
    ) -> None:
        self.path = Path(path)
        self.offset, self.line_number, self.skipping = 0, 0, False
        self._file: FileId | None = None
        self._head = _digest(b"")
        self._prefix = b""  # the file's first min(offset, HEAD_BYTES) bytes, once a poll has checked them
        self._read_to, self._read_at = 0, 0
        self._tail: tuple[int, int] | None = None  # (offset, first seen) of a last line without its newline
        self._tail_reported = False
        if resume is not None:
            self._file, self._head = resume.file, resume.head
            self.offset, self.line_number, self.skipping = resume.offset, resume.line, resume.skipping
            if read_to > resume.offset:
                self._read_to, self._read_at = read_to, read_at

    @property
    def file(self) -> FileId | None:
        return self._file

    def rereading(self) -> tuple[int, int] | None:
        """(read_to, read_at) while lines read before a restart remain to be read again, else None."""
        return (self._read_to, self._read_at) if self._read_to > self.offset else None

    def position(self) -> InboxPosition | None:
        """Where the next poll reads; None before the file was ever found."""
        if self._file is None:
            return None
        return InboxPosition(
            device=self._file[0],
            inode=self._file[1],
            offset=self.offset,
            line=self.line_number,
            head=self._head,
            skipping=self.skipping,
        )

    def position_at(self, line: InboxLine) -> InboxPosition:
        """The position just before a line this reader returned from the file it reads now."""
        assert line.file == self._file and line.start <= self.offset, "a line of the file as it is read now"
        return InboxPosition(
            device=line.file[0],
            inode=line.file[1],
            offset=line.start,
            line=line.number - 1,
            head=_digest(self._prefix[: min(line.start, HEAD_BYTES)]),
        )

    def poll(self, now: int) -> InboxPoll:
        try:
            with self.path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                first = handle.read(HEAD_BYTES)
                file = (stat.st_dev, stat.st_ino)
                if not self._same_file(file, stat.st_size, first):
                    self._restart(file)
                handle.seek(self.offset)
                chunk = handle.read(MAX_READ_BYTES)
        except FileNotFoundError:
            return InboxPoll((), ())  # no inbox yet: nothing to say; it may appear later
        known = first[: min(self.offset, HEAD_BYTES)]
        lines: list[InboxLine] = []
        errors: list[tuple[int, str]] = []
        used = self._split(chunk, now, lines, errors)
        notices = self._unterminated(chunk, used, now)
        self._prefix = (known + chunk[:used])[:HEAD_BYTES]
        self.offset += used
        self._head = _digest(self._prefix[: min(self.offset, HEAD_BYTES)])
        return InboxPoll(tuple(lines), tuple(errors), notices)

    def _same_file(self, file: FileId, size: int, first: bytes) -> bool:
        if file != self._file or size < self.offset:
            return False
        return _digest(first[: min(self.offset, HEAD_BYTES)]) == self._head

    def _restart(self, file: FileId) -> None:
        self._file = file
        self.offset, self.line_number, self.skipping = 0, 0, False
        self._head, self._prefix = _digest(b""), b""
        self._read_to = 0  # what was read before a restart was another file's
        self._tail = None

    def _split(self, chunk: bytes, now: int, lines: list[InboxLine], errors: list[tuple[int, str]]) -> int:
        """Parse the chunk's complete lines; the number of bytes consumed."""
        position = 0
        # Split on b"\n" only: a stray \r inside a line must not shift the line numbers.
        while (end := chunk.find(b"\n", position)) >= 0:
            raw, start, position = chunk[position:end], self.offset + position, end + 1
            if self.skipping:  # the end of an over-long line, reported when it began
                self.skipping = False
                continue
            self.line_number += 1
            if len(raw) > MAX_LINE_BYTES:
                errors.append((self.line_number, f"longer than {MAX_LINE_BYTES} bytes"))
                continue
            try:
                line = self._line(raw, start, now)
            except InboxLineError as exc:
                errors.append((self.line_number, str(exc)))
                continue
            if line is not None:
                lines.append(line)
        if self.skipping:
            return len(chunk)
        if len(chunk) - position > MAX_LINE_BYTES:
            self.line_number += 1
            errors.append((self.line_number, f"longer than {MAX_LINE_BYTES} bytes; skipped up to its newline"))
            self.skipping = True
            return len(chunk)
        return position

    def _line(self, raw: bytes, start: int, now: int) -> InboxLine | None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InboxLineError("not UTF-8") from None
        if not text.strip():
            return None
        reread = start < self._read_to
        read_at = self._read_at if reread else now
        assert self._file is not None
        return InboxLine(
            signal=parse_inbox_line(text, now=now, offset=start, read_at=read_at),
            file=self._file,
            start=start,
            number=self.line_number,
            read_at=read_at,
            reread=reread,
        )

    def _unterminated(self, chunk: bytes, used: int, now: int) -> tuple[tuple[int, str], ...]:
        """A notice, once, for a last line that has waited too long for its newline."""
        if used == len(chunk) or self.skipping:
            self._tail = None
            return ()
        at = self.offset + used
        if self._tail is None or self._tail[0] != at:
            self._tail, self._tail_reported = (at, now), False
            return ()
        waited = now - self._tail[1]
        if self._tail_reported or waited < UNTERMINATED_NOTICE_MS:
            return ()
        self._tail_reported = True
        return ((self.line_number + 1, f"no newline after {waited // 1000}s: it is read once the line ends"),)
