"""Text from the database, the exchange or the operator, made safe to show on a terminal or in a log line."""

from __future__ import annotations

import re

from sqlalchemy.exc import DBAPIError

from config.redaction import redact_url

# C0 and C1 controls (escape sequences, bell, backspace, carriage return, line ends) and the bidirectional
# overrides that make a terminal show characters in another order than they are stored.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, newlines: bool = False) -> str:
    """`text` with every control character shown as its Python escape (`\\x1b`, `\\n`, `\\u202e`): what reaches
    a terminal or a log is the text as written, never a colour, a cursor move, a title, or a forged line.
    `newlines=True` keeps line ends (a message of several lines that is ours, or a traceback)."""
    pattern = _CONTROL_BUT_NEWLINE if newlines else _CONTROL
    return pattern.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def describe_error(error: BaseException, url: str | None = None) -> str:
    """An unexpected error in one line: what the database (or the code) said, never the database password."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        text = f"the database answered: {error.orig}"  # without SQLAlchemy's statement and parameters
    else:
        text = f"{type(error).__name__}: {error}"
    text = " ".join(text.split())
    return text.replace(url, redact_url(url)) if url else text
