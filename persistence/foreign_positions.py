"""Positions on the exchange that are not ours (held in a symbol outside the configured ones), as execution last
saw them: one `service_state` row, written and read here alone, so that `status` shows them without the log.

Execution writes the row at every reconcile that sees such a position (start, and the light reconcile while
running) and deletes it when none is left; `status` reads it, while the service runs or not. A row that cannot be
read (written by another version, edited by hand) reads as none: `status` never fails on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection, delete

from persistence import records
from persistence.tables import SERVICE_STATE

FOREIGN_POSITIONS = "foreign-positions"


@dataclass(frozen=True, slots=True, kw_only=True)
class ForeignPosition:
    symbol: str
    side: str  # LONG | SHORT
    quantity: Decimal  # absolute
    first_seen: int  # UTC ms: the first reconcile that saw it as it is now (same side and quantity)
    last_seen: int  # UTC ms: the last reconcile that saw it


def save(connection: Connection, positions: Iterable[ForeignPosition], at: int) -> None:
    """Replace what is kept with `positions`, in the caller's transaction; none: the row is deleted."""
    rows = [
        {
            "symbol": p.symbol,
            "side": p.side,
            "quantity": str(p.quantity),
            "first_seen": p.first_seen,
            "last_seen": p.last_seen,
        }
        for p in positions
    ]
    if rows:
        records.save_state(connection, FOREIGN_POSITIONS, rows, at)
    else:
        connection.execute(delete(SERVICE_STATE).where(SERVICE_STATE.c.name == FOREIGN_POSITIONS))


def load(connection: Connection) -> tuple[ForeignPosition, ...]:
    """What is kept, by symbol; none when nothing is (or the row cannot be read)."""
    try:
        value = records.load_state(connection, FOREIGN_POSITIONS)
        found = [
            ForeignPosition(
                symbol=str(row["symbol"]),
                side=str(row["side"]),
                quantity=Decimal(row["quantity"]),
                first_seen=int(row["first_seen"]),
                last_seen=int(row["last_seen"]),
            )
            for row in (value if isinstance(value, list) else ())
        ]
    except (KeyError, TypeError, ValueError, InvalidOperation):  # ValueError: JSONDecodeError too
        return ()
    return tuple(sorted(found, key=lambda p: p.symbol))
