"""Read-only history behind the HTTP API: decisions, policy snapshots, equity, orders and fills; rows as JSON-ready
dicts like service/inspection.py's (money as decimal strings, times ISO 8601 UTC).

Every list is newest first in the database's order and bounded by `limit`; `before_id` pages back from the last
row shown, so each page is an index range, however long the table.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, Select, func, select

from persistence.tables import EQUITY_SNAPSHOTS, FILLS, ORDERS, POLICY_SNAPSHOTS, SIGNAL_DECISIONS
from service import decision_queries
from service.inspection import iso, plain


def _page(query: Select[Any], table: Any, *, since: int | None, until: int | None, before_id: int | None) -> Any:
    if since is not None:
        query = query.where(table.c.at >= since)
    if until is not None:
        query = query.where(table.c.at < until)
    if before_id is not None:
        query = query.where(table.c.id < before_id)
    return query.order_by(table.c.id.desc())


def decisions(
    engine: Engine,
    *,
    reason: str | None = None,
    symbol: str | None = None,
    since: int | None = None,
    until: int | None = None,
    before_id: int | None = None,
    limit: int,
) -> list[dict[str, Any]]:
    query = decision_queries.filtered(select(SIGNAL_DECISIONS), reason=reason, symbol=symbol)
    query = _page(query, SIGNAL_DECISIONS, since=since, until=until, before_id=before_id).limit(limit)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [decision_queries.decision_row(row) for row in rows]


def decision_counts(engine: Engine, *, since: int, until: int, bucket_ms: int) -> list[dict[str, Any]]:
    """How many decisions of each reason fell in each `bucket_ms` from `since`: [{at, reason, count}], oldest first."""
    bucket = ((SIGNAL_DECISIONS.c.at - since) // bucket_ms).label("bucket")
    query = (
        select(bucket, SIGNAL_DECISIONS.c.reason, func.count().label("count"))
        .where(SIGNAL_DECISIONS.c.at >= since, SIGNAL_DECISIONS.c.at < until)
        .group_by(bucket, SIGNAL_DECISIONS.c.reason)
        .order_by(bucket, SIGNAL_DECISIONS.c.reason)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [{"at": iso(since + int(b) * bucket_ms), "reason": reason, "count": count} for b, reason, count in rows]


def reason_totals(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(SIGNAL_DECISIONS.c.reason, func.count()).group_by(SIGNAL_DECISIONS.c.reason)
        ).all()
    return {str(reason): int(count) for reason, count in rows}


def policies(
    engine: Engine, *, since: int | None = None, until: int | None = None, before_id: int | None = None, limit: int
) -> list[dict[str, Any]]:
    query = _page(select(POLICY_SNAPSHOTS), POLICY_SNAPSHOTS, since=since, until=until, before_id=before_id)
    with engine.connect() as connection:
        rows = connection.execute(query.limit(limit)).mappings().all()
    return [
        {
            "id": row["id"],
            "at": iso(row["at"]),
            "enforced": row["enforced"],
            "note": row["note"],
            "policy": json.loads(row["policy"]),
            "inputs": json.loads(row["inputs"]),
        }
        for row in rows
    ]


def equity(
    engine: Engine, *, since: int | None = None, until: int | None = None, before_id: int | None = None, limit: int
) -> list[dict[str, Any]]:
    """The newest `limit` snapshots, oldest first (a curve reads left to right)."""
    query = _page(select(EQUITY_SNAPSHOTS), EQUITY_SNAPSHOTS, since=since, until=until, before_id=before_id)
    with engine.connect() as connection:
        rows = connection.execute(query.limit(limit)).mappings().all()
    return [
        {
            "id": row["id"],
            "at": iso(row["at"]),
            "equity": plain(row["equity"]),
            "wallet": plain(row["wallet"]),
            "unrealized_pnl": plain(row["unrealized_pnl"]),
            "day_start_equity": plain(row["day_start_equity"]),
            "daily_drawdown_pct": row["daily_drawdown_pct"],
        }
        for row in reversed(rows)
    ]


def orders(
    engine: Engine, *, position_id: str | None = None, before_id: int | None = None, limit: int
) -> list[dict[str, Any]]:
    """Newest first."""
    query = select(ORDERS)
    if position_id is not None:
        query = query.where(ORDERS.c.position_id == position_id)
    if before_id is not None:
        query = query.where(ORDERS.c.id < before_id)
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(ORDERS.c.id.desc()).limit(limit)).mappings().all()
    return [
        {
            "id": row["id"],
            "position_id": row["position_id"],
            "client_order_id": row["client_order_id"],
            "exchange_order_id": row["exchange_order_id"],
            "purpose": row["purpose"],
            "side": row["side"],
            "type": row["type"],
            "quantity": plain(row["quantity"]),
            "trigger_price": plain(row["trigger_price"]),
            "reduce_only": row["reduce_only"],
            "status": row["status"],
            "filled_quantity": plain(row["filled_quantity"]),
            "average_price": plain(row["average_price"]),
            "reject_code": row["reject_code"],
            "reject_message": row["reject_message"],
            "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"]),
        }
        for row in rows
    ]


def fills(engine: Engine, *, position_id: str) -> list[dict[str, Any]]:
    """A position's fills, oldest first."""
    query = (
        select(FILLS, ORDERS.c.client_order_id, ORDERS.c.purpose)
        .join(ORDERS, ORDERS.c.id == FILLS.c.order_id)
        .where(ORDERS.c.position_id == position_id)
        .order_by(FILLS.c.at, FILLS.c.id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [
        {
            "id": row["id"],
            "order_id": row["order_id"],
            "client_order_id": row["client_order_id"],
            "purpose": row["purpose"],
            "trade_id": row["trade_id"],
            "quantity": plain(row["quantity"]),
            "price": plain(row["price"]),
            "fee": plain(row["fee"]),
            "fee_asset": row["fee_asset"],
            "realized_pnl": plain(row["realized_pnl"]),
            "at": iso(row["at"]),
        }
        for row in rows
    ]
