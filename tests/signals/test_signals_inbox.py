"""The JSON-lines signal inbox: parsing, malformed lines, incremental polling, truncation and rotation."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from actors.messages import Side
from actors.signals.inbox import InboxLineError, InboxReader, parse_inbox_line, parse_inbox_lines

NOW = 1_700_000_000_000


def line(**fields: object) -> str:
    return json.dumps({"symbol": "BTCUSDT", "side": "LONG", "confidence": 0.72} | fields) + "\n"


def test_parse_inbox_line_full_line_gives_signal() -> None:
    signal = parse_inbox_line(line(id="abc", at=123, side="short", symbol="ethusdt"), now=NOW)
    assert (signal.id, signal.at, signal.symbol, signal.side) == ("abc", 123, "ETHUSDT", Side.SHORT)
    assert (signal.confidence, signal.source) == (0.72, "inbox")


def test_parse_inbox_line_defaults_at_now_and_deterministic_id() -> None:
    first = parse_inbox_line(line(), now=NOW, offset=40)
    again = parse_inbox_line(line(), now=NOW + 5, offset=40)
    elsewhere = parse_inbox_line(line(), now=NOW, offset=80)
    assert first.at == NOW and first.id == again.id and first.id.startswith("inbox-40-")
    assert elsewhere.id != first.id


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (line(symbol=""), "bad symbol"),
        (line(symbol=5), "bad symbol"),
        (line(side="BUY"), "bad side"),
        (line(confidence=1.5), "bad confidence"),
        (line(confidence="0.7"), "bad confidence"),
        (line(confidence=True), "bad confidence"),
        (line(confidence=float("nan")), "bad confidence"),
        (line(id=""), "bad id"),
        (line(id="x" * 65), "bad id"),
        (line(at=-1), "bad at"),
        (line(at="soon"), "bad at"),
    ],
)
def test_parse_inbox_line_malformed_raises_reason(text: str, reason: str) -> None:
    with pytest.raises(InboxLineError, match=reason):
        parse_inbox_line(text, now=NOW)


def test_parse_inbox_lines_reports_bad_lines_and_keeps_good() -> None:
    poll = parse_inbox_lines([line(), "garbage", "", line(side="FLAT"), line(symbol="SOLUSDT")], now=NOW)
    assert [s.symbol for s in poll.signals] == ["BTCUSDT", "SOLUSDT"]
    assert [number for number, _ in poll.errors] == [2, 4]


def test_inbox_reader_reads_only_new_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    reader = InboxReader(path)
    assert reader.poll(NOW).signals == ()  # no file yet: quiet
    path.write_text(line(id="a") + line(id="b").rstrip("\n"))
    assert [s.id for s in reader.poll(NOW).signals] == ["a"]  # "b" has no newline yet
    with path.open("a") as handle:
        handle.write("\n" + "oops\n" + line(id="c"))
    poll = reader.poll(NOW)
    assert [s.id for s in poll.signals] == ["b", "c"]
    assert [number for number, _ in poll.errors] == [3]
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
    assert [s.id for s in reader.poll(NOW).signals] == ["x", "x", "x"]


def test_inbox_reader_non_utf8_and_crlf_lines(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    path.write_bytes(b"\xff\xfe\n" + line(id="crlf").rstrip("\n").encode() + b"\r\n")
    poll = InboxReader(path).poll(NOW)
    assert [s.id for s in poll.signals] == ["crlf"]
    assert poll.errors == ((1, "not UTF-8"),)
