"""The inbox reader: incremental polling, bounds on lines and reads, truncation, rotation, rewrites, resuming."""

from __future__ import annotations

import json
import os
from pathlib import Path

from actors.signals.inbox import (
    MAX_LINE_BYTES,
    MAX_READ_BYTES,
    UNTERMINATED_NOTICE_MS,
    InboxPosition,
    InboxReader,
)

NOW = 1_700_000_000_000


def line(**fields: object) -> str:
    return json.dumps({"symbol": "BTCUSDT", "side": "LONG", "confidence": 0.72} | fields) + "\n"


def ids(reader: InboxReader, now: int = NOW) -> list[str]:
    return [s.id for s in reader.poll(now).signals]


def test_inbox_reader_reads_only_new_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    reader = InboxReader(path)
    assert reader.poll(NOW).signals == () and reader.position() is None  # no file yet: quiet
    path.write_text(line(id="a") + line(id="b").rstrip("\n"))
    assert ids(reader) == ["a"]  # "b" has no newline yet
    with path.open("a") as handle:
        handle.write("\n" + "oops\n" + line(id="c"))
    poll = reader.poll(NOW)
    assert [s.id for s in poll.signals] == ["b", "c"]
    assert [number for number, _ in poll.errors] == [3]
    assert [(line.number, line.start) for line in poll.lines] == [
        (2, len(line(id="a"))),
        (4, path.stat().st_size - len(line(id="c"))),
    ]
    assert reader.poll(NOW) == type(poll)((), ())


def test_inbox_reader_truncated_file_restarts_from_start(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    reader = InboxReader(path)
    path.write_text(line(id="a") + line(id="b"))
    reader.poll(NOW)
    path.write_text("bad\n")  # truncated in place, shorter than the offset
    poll = reader.poll(NOW)
    assert poll.signals == () and poll.errors[0][0] == 1


def test_inbox_reader_rotated_file_read_from_start(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    reader = InboxReader(path)
    path.write_text(line(id="a"))
    reader.poll(NOW)
    replacement = tmp_path / "new.jsonl"
    replacement.write_text(line(id="x") * 3)  # longer than what was read: only the inode tells
    os.replace(replacement, path)
    assert ids(reader) == ["x", "x", "x"]


def test_inbox_reader_rewritten_in_place_longer_read_from_start(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    reader = InboxReader(path)
    path.write_text(line(id="a"))
    reader.poll(NOW)
    inode = path.stat().st_ino
    with path.open("r+") as handle:  # same inode, longer than before: only the first bytes tell
        handle.write(line(id="q") + line(id="r"))
    assert path.stat().st_ino == inode
    assert ids(reader) == ["q", "r"]


def test_inbox_reader_non_utf8_and_crlf_lines(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    path.write_bytes(b"\xff\xfe\n" + line(id="crlf").rstrip("\n").encode() + b"\r\n")
    poll = InboxReader(path).poll(NOW)
    assert [s.id for s in poll.signals] == ["crlf"]
    assert poll.errors == ((1, "not UTF-8"),)


def test_inbox_reader_line_over_the_bound_skipped_and_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    long = line(id="long", note="x" * MAX_LINE_BYTES)
    path.write_text(long + line(id="next"))
    poll = InboxReader(path).poll(NOW)
    assert [s.id for s in poll.signals] == ["next"]
    assert poll.errors == ((1, f"longer than {MAX_LINE_BYTES} bytes"),)


def test_inbox_reader_unterminated_tail_over_the_bound_reported_once_and_skipped_to_its_newline(
    tmp_path: Path,
) -> None:
    path = tmp_path / "inbox.jsonl"
    reader = InboxReader(path)
    path.write_text(line(id="a") + "y" * (MAX_LINE_BYTES + 1))  # a writer that never ends its line
    poll = reader.poll(NOW)
    assert [s.id for s in poll.signals] == ["a"] and [n for n, _ in poll.errors] == [2]
    assert reader.offset == path.stat().st_size and reader.skipping  # consumed, not kept to read again
    with path.open("a") as handle:
        handle.write("z" * MAX_READ_BYTES)
    assert reader.poll(NOW) == type(poll)((), ())  # still the same line: no second report, nothing re-read
    assert reader.offset == path.stat().st_size
    with path.open("a") as handle:
        handle.write("tail of the long line\n" + line(id="b"))
    poll = reader.poll(NOW)
    assert [s.id for s in poll.signals] == ["b"] and poll.errors == () and poll.lines[0].number == 3


def test_inbox_reader_unterminated_tail_within_the_bound_waits_and_is_noticed_once(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    reader = InboxReader(path)
    path.write_text(line(id="a").rstrip("\n"))
    assert reader.poll(NOW).signals == () and reader.offset == 0
    assert reader.poll(NOW + UNTERMINATED_NOTICE_MS - 1).notices == ()
    notices = reader.poll(NOW + UNTERMINATED_NOTICE_MS).notices
    assert len(notices) == 1 and notices[0][0] == 1 and "no newline after 30s" in notices[0][1]
    assert reader.poll(NOW + 2 * UNTERMINATED_NOTICE_MS).notices == ()
    with path.open("a") as handle:
        handle.write("\n")
    assert ids(reader) == ["a"]


def test_inbox_reader_large_backlog_read_in_bounded_polls(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    count = 2 * MAX_READ_BYTES // len(line(id="n-00000")) + 10
    path.write_text("".join(line(id=f"n-{i:05d}") for i in range(count)))
    reader = InboxReader(path)
    polls = []
    while signals := reader.poll(NOW).signals:
        polls.append(len(signals))
    assert sum(polls) == count and len(polls) == 3
    assert max(polls) * len(line(id="n-00000")) <= MAX_READ_BYTES


def test_inbox_reader_resumes_a_saved_position_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    path.write_text(line(id="a") + line(id="b"))
    first = InboxReader(path)
    first.poll(NOW)
    saved = first.position()
    assert saved is not None and (saved.offset, saved.line) == (path.stat().st_size, 2)
    with path.open("a") as handle:
        handle.write("bad\n" + line(id="c"))
    resumed = InboxReader(path, resume=saved)
    poll = resumed.poll(NOW)
    assert [s.id for s in poll.signals] == ["c"] and [n for n, _ in poll.errors] == [3]


def test_inbox_reader_saved_position_of_another_file_reads_from_start(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    path.write_text(line(id="a") + line(id="b"))
    first = InboxReader(path)
    first.poll(NOW)
    saved = first.position()
    assert saved is not None
    path.unlink()
    path.write_text(line(id="new-1") + line(id="new-2") + line(id="new-3"))
    other_file = InboxPosition(
        device=saved.device, inode=saved.inode + 1, offset=saved.offset, line=saved.line, head=saved.head
    )
    assert ids(InboxReader(path, resume=other_file)) == ["new-1", "new-2", "new-3"]
    same_inode_other_text = InboxPosition(
        device=saved.device,
        inode=path.stat().st_ino,
        offset=saved.offset,
        line=saved.line,
        head=saved.head,
    )
    assert ids(InboxReader(path, resume=same_inode_other_text)) == ["new-1", "new-2", "new-3"]


def test_inbox_reader_lines_read_before_a_restart_keep_their_first_read_time(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    path.write_text(line(id="a"))
    first = InboxReader(path)
    first.poll(NOW)
    saved = first.position()
    assert saved is not None
    with path.open("a") as handle:
        handle.write(line() + line(at=NOW - 5))
    read_to = saved.offset + len(line())
    reader = InboxReader(path, resume=saved, read_to=read_to, read_at=NOW - 90_000)
    assert reader.rereading() == (read_to, NOW - 90_000)
    lines = reader.poll(NOW).lines
    assert [(entry.signal.at, entry.read_at, entry.reread) for entry in lines] == [
        (NOW - 90_000, NOW - 90_000, True),
        (NOW - 5, NOW, False),
    ]
    assert reader.rereading() is None
