"""Read-only queries behind `decisions` and `policy`: the signals' recorded decisions and the policies in force."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, RowMapping, Select, select

from actors.messages import DecisionReason
from persistence.tables import POLICY_SNAPSHOTS, SIGNAL_DECISIONS
from service.inspection import iso


def reason_code(text: str) -> str:
    """A decision reason as recorded (`blocked_by_gate` is `BLOCKED_BY_GATE`); raises `ValueError` listing them."""
    code = text.strip().upper()
    if code not in {reason.value for reason in DecisionReason}:
        known = ", ".join(reason.value for reason in DecisionReason)
        raise ValueError(f"{text!r} is not a decision reason: one of {known}")
    return code


def decisions(
    engine: Engine,
    *,
    reason: str | None = None,
    symbol: str | None = None,
    since: int | None = None,
    limit: int | None = None,
    strategy: str | None = None,
) -> list[dict[str, Any]]:
    """Oldest first; with a limit, the newest `limit` decisions (still oldest first). `strategy`: only the signals
    of that strategy (its name, or `inbox` for the inbox's), as recorded in `source`."""
    table = SIGNAL_DECISIONS
    query = filtered(select(table), reason=reason, symbol=symbol, strategy=strategy)
    if since is not None:
        query = query.where(table.c.at >= since)
    query = query.order_by(table.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [decision_row(row) for row in reversed(rows)]


def filtered(
    query: Select[Any], *, reason: str | None = None, symbol: str | None = None, strategy: str | None = None
) -> Select[Any]:
    """`query` over signal_decisions kept to one reason, symbol and strategy (each when given)."""
    table = SIGNAL_DECISIONS
    if reason:
        query = query.where(table.c.reason == reason)
    if symbol:
        query = query.where(table.c.symbol == symbol.upper())
    if strategy:
        query = query.where(table.c.source == strategy)
    return query


def decision_row(row: RowMapping) -> dict[str, Any]:
    """One recorded decision as JSON (the CLI's `--json` and the HTTP API's)."""
    return {
        "id": row["id"],
        "at": iso(row["at"]),
        "signal_id": row["signal_id"],
        "symbol": row["symbol"],
        "side": row["side"],
        "confidence": row["confidence"],
        "source": row["source"],
        "reason": row["reason"],
        "detail": row["detail"],
        "position_id": row["position_id"],
    }


def policies(engine: Engine, *, history: bool, limit: int | None = None) -> list[dict[str, Any]]:
    """The policy in force (the last recorded, with the inputs it was made from), or with `history` every one
    recorded, oldest first, without their inputs (with a limit, the newest `limit`)."""
    query = select(POLICY_SNAPSHOTS).order_by(POLICY_SNAPSHOTS.c.id.desc())
    query = query.limit(limit if history else 1) if limit is not None or not history else query
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [
        {
            "id": row["id"],
            "at": iso(row["at"]),
            "enforced": bool(row["enforced"]),
            "policy": json.loads(row["policy"]),
            "note": row["note"],
            **({} if history else {"inputs": json.loads(row["inputs"])}),
        }
        for row in reversed(rows)
    ]


def by_strategy(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """How many decisions of each reason each strategy's signals got (the inbox's under `inbox`), in first-seen
    order of strategies and reasons."""
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        reasons = counts.setdefault(row["source"], {})
        reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
    return counts
