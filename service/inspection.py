"""Read-only queries behind `positions`, `transitions` and `gate`; rows as stable, JSON-ready dicts."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, inspect, select

from persistence import lease
from persistence.position_details import PositionDetails
from persistence.tables import ACCOUNT_LEASE, GATE, POSITIONS, TRANSITIONS
from state_machines import POSITION_TABLE, TABLES

_RELATIVE = re.compile(r"^([0-9]+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_time(text: str, now: datetime) -> int:
    """UTC milliseconds from ISO 8601 (`2026-11-22`, `2026-11-22T10:00`), `15m`/`2h`/`3d` ago, or epoch ms.

    Anything that is not a time between year 1 and year 9999 raises `ValueError` with the one message.
    """
    try:
        return _checked(_parse_time(text.strip(), now))
    except (ValueError, OverflowError, OSError):
        raise ValueError(
            f"{text!r} is not a time: use ISO 8601 (2026-11-22T10:00), 15m / 2h / 3d ago, or epoch ms"
        ) from None


def _parse_time(text: str, now: datetime) -> int:
    if text.isascii() and text.isdigit():
        return int(text)
    relative = _RELATIVE.match(text)
    if relative:
        delta = timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
        return int((now - delta).timestamp() * 1000)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _checked(ms: int) -> int:
    """`ms` if it is a moment the calendar (and so every reader of the time) can show; else raises."""
    datetime.fromtimestamp(ms / 1000, UTC)  # OverflowError, ValueError or OSError past year 9999
    return ms


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def positions(
    engine: Engine,
    *,
    open_only: bool = False,
    symbol: str | None = None,
    state: str | None = None,
    position_id: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Oldest first; `limit` and `offset` page through them."""
    query = select(POSITIONS).order_by(POSITIONS.c.created_at, POSITIONS.c.id)
    if open_only:
        query = query.where(POSITIONS.c.state.not_in([str(s) for s in POSITION_TABLE.final]))
    if symbol:
        query = query.where(POSITIONS.c.symbol == symbol.upper())
    if state:
        query = query.where(POSITIONS.c.state == state)
    if position_id is not None:
        query = query.where(POSITIONS.c.id == position_id)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [
        {
            "id": row["id"],
            "symbol": row["symbol"],
            "side": row["side"],
            "state": row["state"],
            "seq": row["seq"],
            "client_order_id": row["client_order_id"],
            "quantity": plain(row["quantity"]),
            "filled_quantity": plain(row["filled_quantity"]),
            "open_quantity": plain(_open_quantity(row)),
            "entry_price": plain(row["entry_price"]),
            "exit_price": plain(row["exit_price"]),
            "stop_price": plain(row["stop_price"]),
            "take_profit_price": plain(row["take_profit_price"]),
            "realized_pnl": plain(row["realized_pnl"]),
            "fees": plain(row["fees"]),
            "exit_mode": row["exit_mode"],
            "close_reason": row["close_reason"],
            "created_at": iso(row["created_at"]),
            "opened_at": iso(row["opened_at"]),
            "closed_at": iso(row["closed_at"]),
        }
        for row in rows
    ]


def _open_quantity(row: Any) -> Decimal:
    """What is still held: filled by the entry less what exits closed (kept in the row's details)."""
    try:
        details = PositionDetails.from_json(row["details"])
    except ValueError:
        details = PositionDetails()  # a broken row still lists, as if nothing had closed
    return details.open_quantity(Decimal(row["filled_quantity"] or 0))


def transitions(
    engine: Engine,
    *,
    position: str | None = None,
    machine: str | None = None,
    since: int | None = None,
    limit: int | None = None,
    entity: str | None = None,
    until: int | None = None,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Oldest first; with a limit, the newest `limit` rows (still oldest first). `entity` is any machine's entity
    id (with `machine`, that machine's); `until` is exclusive; `before_id` pages back from the oldest row shown."""
    query = select(TRANSITIONS)
    if position:
        position = position_id(engine, position)
        query = query.where(TRANSITIONS.c.machine == "position", TRANSITIONS.c.entity_id == position)
    elif machine:
        query = query.where(TRANSITIONS.c.machine == machine)
    if entity is not None:
        query = query.where(TRANSITIONS.c.entity_id == entity)
        if not position and not machine:  # every machine named: the (machine, entity_id, seq) index finds the rows
            query = query.where(TRANSITIONS.c.machine.in_(sorted(TABLES)))
    if since is not None:
        query = query.where(TRANSITIONS.c.at >= since)
    if until is not None:
        query = query.where(TRANSITIONS.c.at < until)
    if before_id is not None:
        query = query.where(TRANSITIONS.c.id < before_id)
    query = query.order_by(TRANSITIONS.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [
        {
            "id": row["id"],
            "at": iso(row["at"]),
            "machine": row["machine"],
            "entity_id": row["entity_id"],
            "seq": row["seq"],
            "from": row["source"] or None,
            "to": row["dest"],
            "trigger": row["trigger"],
            "reason": row["reason"],
            "payload": json.loads(row["payload"]),
        }
        for row in reversed(rows)
    ]


def position_id(engine: Engine, given: str) -> str:
    """A position's id from the id or its start (the short id a narrow table shows); raises `ValueError` when the
    start fits several. An id that fits none is returned as given: it has no rows."""
    with engine.connect() as connection:
        exact = connection.execute(select(POSITIONS.c.id).where(POSITIONS.c.id == given)).scalar()
        if exact is not None:
            return str(exact)
        found = connection.execute(
            select(POSITIONS.c.id).where(POSITIONS.c.id.startswith(given, autoescape=True)).limit(5)
        ).scalars()
        ids = list(found)
    if len(ids) > 1:
        raise ValueError(f"{given!r} is the start of several positions' ids ({', '.join(ids)}...): give more of it")
    return ids[0] if ids else given


def gate(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as connection:
        row = connection.execute(select(GATE)).mappings().first()
    if row is None:
        return None
    return {
        "state": row["state"],
        "reason": row["reason"],
        "locked_until": iso(row["locked_until"]),
        "updated_at": iso(row["updated_at"]),
        "seq": row["seq"],
    }


STANDBY_GONE_AFTER_MS = 10_000


def account_lease(connection: Connection, now_ms: int) -> dict[str, Any] | None:
    """Who trades the account (the lease's owner, its fencing token, the lease's age) and who waits to take over;
    None for a database made before leases (or one no service has started on yet)."""
    if not inspect(connection).has_table(ACCOUNT_LEASE.name):
        return None
    held = lease.leases(connection)
    if not held:
        return None
    current = max(held, key=lambda found: found.renewed_at)  # one per database, unless its account key changed

    def process(owner: lease.Owner) -> dict[str, Any]:
        return {"host": owner.host, "pid": owner.pid, "instance": owner.instance}

    return {
        "account": current.account_key,
        "owner": process(current.owner),
        "token": current.token,
        "acquired_at": iso(current.acquired_at),
        "renewed_at": iso(current.renewed_at),
        "age_s": round((now_ms - current.renewed_at) / 1000, 3),
        "expires_at": iso(current.expires_at),
        "expired": current.expired(now_ms),
        "standbys": [  # a standby polls twice a second: one not seen for long is gone (killed)
            {**process(s.owner), "since": iso(s.since), "seen_at": iso(s.seen_at)}
            for s in lease.standbys(connection, current.account_key)
            if now_ms - s.seen_at <= STANDBY_GONE_AFTER_MS
        ],
    }
