"""The service's log lines: one record is one line, and no control character in a message reaches the terminal."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from service.logs import configure

HOSTILE = "evil[/]\x1b[31m red\nforged 12:00:00 CRITICAL quantum_trader.service: fake\r\x07"
SHOWN = "evil[/]\\x1b[31m red\\nforged 12:00:00 CRITICAL quantum_trader.service: fake\\r\\x07"
log = logging.getLogger("quantum_trader.test")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def raise_hostile() -> None:
    raise ValueError(f"bad signal {HOSTILE}")


def test_plain_log_line_shows_control_characters_as_escapes(capsys: pytest.CaptureFixture[str]) -> None:
    configure(json_lines=False)
    log.warning("signal %s skipped", HOSTILE)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(f"WARNING quantum_trader.test: signal {SHOWN} skipped")
    assert "\x1b" not in lines[0] and "\r" not in lines[0] and "\x07" not in lines[0]


def test_plain_log_traceback_is_indented_with_its_message_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    configure(json_lines=False)
    try:
        raise_hostile()
    except ValueError:
        log.exception("failed on %s", HOSTILE)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0].endswith(f"ERROR   quantum_trader.test: failed on {SHOWN}")
    assert lines[1] == "  Traceback (most recent call last):"
    assert lines[-2:] == [
        "  ValueError: bad signal evil[/]\\x1b[31m red",
        "  forged 12:00:00 CRITICAL quantum_trader.service: fake\\r\\x07",
    ]
    assert [line for line in lines if not line.startswith("  ")] == [lines[0]]  # no line reads as a record
    assert "\x1b" not in err and "\r" not in err and "\x07" not in err


def test_json_log_line_is_one_object_with_the_message_as_logged(capsys: pytest.CaptureFixture[str]) -> None:
    configure(json_lines=True)
    log.warning("signal %s skipped", HOSTILE)
    try:
        raise_hostile()
    except ValueError:
        log.exception("failed")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == f"signal {HOSTILE} skipped" and first["level"] == "WARNING"
    assert second["exception"].endswith(f"ValueError: bad signal {HOSTILE}")
    assert not any(c in line for line in lines for c in "\x1b\r\x07")
