"""Client order ids: what each of our orders is called on the exchange. Pure.

An id names the order's purpose, its position and the purpose's number, so a restart
finds every order it may have sent (and looks it up instead of sending it again), and
an id is never used twice: each purpose counts its own orders.
"""

from __future__ import annotations

from typing import NamedTuple


class Purpose:
    ENTRY = "e"
    STOP = "sl"
    TAKE_PROFIT = "tp"
    PARTIAL = "pt"
    EXIT = "x"


class ParsedId(NamedTuple):
    purpose: str
    position_id: str
    number: int


def client_order_id(prefix: str, purpose: str, position_id: str, number: int = 0) -> str:
    """Deterministic and within Binance's 36 characters, e.g. `qt-sl-3fa2b1c4d5e6-2`."""
    return f"{prefix}-{purpose}-{position_id[2:]}-{number}"


def entry_client_id(prefix: str, position_id: str) -> str:
    """The entry's id is derived from the position id alone: an entry is never sent twice."""
    return client_order_id(prefix, Purpose.ENTRY, position_id)


PURPOSES = frozenset({Purpose.ENTRY, Purpose.STOP, Purpose.TAKE_PROFIT, Purpose.PARTIAL, Purpose.EXIT})


def instance_prefix(client_id: str) -> str | None:
    """The prefix of an id made by this codec, by whichever instance (its own prefix and database salt); None for
    an id of another kind (a person's, another program's, the exchange's own)."""
    parts = client_id.split("-")
    if len(parts) != 4 or parts[1] not in PURPOSES or not parts[3].isdigit():
        return None
    return parts[0]


def parse_client_order_id(prefix: str, client_id: str) -> ParsedId | None:
    """(purpose, position_id, number) of one of our ids, or None for someone else's."""
    parts = client_id.split("-")
    if len(parts) != 4 or parts[0] != prefix or not parts[3].isdigit():
        return None
    return ParsedId(parts[1], "p-" + parts[2], int(parts[3]))
