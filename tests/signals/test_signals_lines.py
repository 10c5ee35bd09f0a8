"""One inbox line to a signal: the format, bad lines and what of them may reach a log line."""

from __future__ import annotations

import json

import pytest

from actors.messages import Side
from actors.signals.lines import MAX_CLOCK_SKEW_MS, InboxLineError, parse_inbox_line, shown

NOW = 1_700_000_000_000


def line(**fields: object) -> str:
    return json.dumps({"symbol": "BTCUSDT", "side": "LONG", "confidence": 0.72} | fields) + "\n"


def test_parse_inbox_line_full_line_gives_signal() -> None:
    signal = parse_inbox_line(line(id="abc", at=123, side="short", symbol="ethusdt"), now=NOW)
    assert (signal.id, signal.at, signal.symbol, signal.side) == ("abc", 123, "ETHUSDT", Side.SHORT)
    assert (signal.confidence, signal.source) == (0.72, "inbox")


def test_parse_inbox_line_without_at_or_id_defaults_at_read_time_and_deterministic_id() -> None:
    first = parse_inbox_line(line(), now=NOW, offset=40)
    again = parse_inbox_line(line(), now=NOW + 5, offset=40)
    elsewhere = parse_inbox_line(line(), now=NOW, offset=80)
    assert first.at == NOW and first.id == again.id and first.id.startswith("inbox-40-")
    assert elsewhere.id != first.id


def test_parse_inbox_line_read_again_keeps_its_first_read_time() -> None:
    signal = parse_inbox_line(line(), now=NOW, read_at=NOW - 90_000)
    assert signal.at == NOW - 90_000


@pytest.mark.parametrize(
    "signal_id", ["a", "order-17", "tv:BTC.1h_long", "A" * 64, "  padded  "], ids=lambda value: repr(value)
)
def test_parse_inbox_line_id_of_allowed_characters_is_kept(signal_id: str) -> None:
    assert parse_inbox_line(line(id=signal_id), now=NOW).id == signal_id.strip()


@pytest.mark.parametrize(
    "signal_id",
    [
        "evil[/]",  # Rich markup: broke `quantum-trader transitions`
        "two\nlines",
        "\x1b[31mred\x1b[0m",
        "tab\there",
        "spa ce",
        "ünï",
        "",
        "x" * 65,
        "builtin-BTCUSDT-1700000000000",  # the built-in strategy's ids
        "inbox-0-abcdef0123",  # the inbox's own ids for lines without one
        7,
    ],
    ids=lambda value: ascii(value)[:20],
)
def test_parse_inbox_line_id_outside_the_allowed_set_is_refused(signal_id: object) -> None:
    with pytest.raises(InboxLineError, match="bad id") as caught:
        parse_inbox_line(line(id=signal_id), now=NOW)
    message = str(caught.value)
    assert message.isascii() and "\n" not in message and "\x1b" not in message


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ("[" * 4000, "not JSON"),  # nested past the recursion limit, within a line's bound
        (line(symbol=""), "bad symbol"),
        (line(symbol=5), "bad symbol"),
        (line(side="BUY"), "bad side"),
        (line(confidence=1.5), "bad confidence"),
        (line(confidence="0.7"), "bad confidence"),
        (line(confidence=True), "bad confidence"),
        (line(confidence=float("nan")), "bad confidence"),
        (line(at=-1), "bad at"),
        (line(at="soon"), "bad at"),
        (line(at=1.5), "bad at"),
        (line(at=NOW * 1000), "ahead of the clock"),  # microseconds
    ],
)
def test_parse_inbox_line_malformed_raises_reason(text: str, reason: str) -> None:
    with pytest.raises(InboxLineError, match=reason):
        parse_inbox_line(text, now=NOW)


def test_parse_inbox_line_at_within_clock_skew_is_taken() -> None:
    assert parse_inbox_line(line(at=NOW + MAX_CLOCK_SKEW_MS), now=NOW).at == NOW + MAX_CLOCK_SKEW_MS
    with pytest.raises(InboxLineError, match="ahead of the clock"):
        parse_inbox_line(line(at=NOW + MAX_CLOCK_SKEW_MS + 1), now=NOW)


def test_parse_inbox_line_bad_value_shown_escaped_and_cut_short() -> None:
    with pytest.raises(InboxLineError) as caught:
        parse_inbox_line(line(symbol="\x1b[2J\u202e" + "X" * 500), now=NOW)
    message = str(caught.value)
    assert message.isascii() and "\x1b" not in message and len(message) < 80
    assert "\\x1b" in message


def test_shown_user_text_is_ascii_escaped_and_bounded() -> None:
    assert shown("ok") == "'ok'"
    assert shown("a\nb") == "'a\\nb'"
    assert len(shown("y" * 1000)) == 40 and shown("y" * 1000).endswith("...")
