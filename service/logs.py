"""Logging: readable lines on a terminal, one JSON object per line with --log-json.

Either way a record is one line, whatever its message holds: signal ids, reasons and exchange messages are not
ours, and a newline or an escape code in one must not forge a log line or reach the terminal as a control.
"""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from datetime import UTC, datetime
from types import TracebackType

from service.terminal import printable

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class PlainFormatter(logging.Formatter):
    """`12:00:01 WARNING logger: message`, the message's control characters shown as escapes (`\\x1b`, `\\n`)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        shown = logging.makeLogRecord(record.__dict__)  # the record itself stays as logged, for other handlers
        shown.msg, shown.args = printable(record.getMessage()), None
        return super().format(shown)

    def formatException(self, ei: ExcInfo) -> str:  # noqa: N802 - logging's name
        # A traceback keeps its lines, indented: an exception's message is not ours, and a line break in it
        # must not start a line that reads as a record of its own.
        return textwrap.indent(printable(super().formatException(ei), newlines=True), "  ")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; JSON itself escapes every control character (`\\u001b`, `\\n`)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure(*, json_lines: bool, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else PlainFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("pykka", "transitions", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
