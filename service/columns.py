"""Tables that fit the terminal: on one narrower than `WIDE` columns (an 80-column one), short ids, short times
and only the columns that matter most; the full values on a wider terminal and in `--json`."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from rich import box
from rich.console import Console
from rich.table import Table

WIDE = 180  # room for every column of a transition or a position at its full precision
ID_CHARS = 8  # `p-0d0f55`: enough to tell positions apart, and `--position` takes it


def is_compact(console: Console) -> bool:
    return console.width < WIDE


def table(title: str, compact: bool) -> Table:
    """A table; a compact one without vertical rules (each costs a column of the 80)."""
    if compact:
        return Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    return Table(title=title)


def short_id(value: str, compact: bool) -> str:
    return value[:ID_CHARS] if compact else value


def short_time(text: str | None, compact: bool, now: datetime | None = None) -> str:
    """An ISO time as written, or compact: `HH:MM:SS` today (UTC), `MM-DD HH:MM` on another day."""
    if text is None:
        return "-"
    if not compact:
        return text
    at = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    today = (now or datetime.now(UTC)).date()
    return at.strftime("%H:%M:%S") if at.date() == today else at.strftime("%m-%d %H:%M")


def short_number(text: str | None, compact: bool, *, places: int | None = None) -> str:
    """A decimal as stored, or compact: `places` decimals (money), else at most 6 significant digits (a price)."""
    if text is None:
        return "-"
    if not compact:
        return text
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    if places is not None:
        return f"{value:.{places}f}"
    return format(Decimal(f"{value:.6g}").normalize(), "f")
