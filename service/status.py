"""The report behind `status --json` and the HTTP API's status: one reader, two ways to show it."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from actors.clock import WallClock
from persistence import cost_metrics, foreign_positions, records
from persistence.strategy_records import figures_by_strategy
from persistence.tables import HEARTBEAT, POLICY_SNAPSHOTS
from service import inspection


def status_report(engine: Engine, *, running: bool, strategies: bool = True) -> dict[str, Any]:
    """What `status --json` prints and the HTTP API serves: service, lease, gate, policy, costs, open positions
    with unrealised PnL (at the mark price when the feed gives one), and foreign positions; and, unless
    `strategies` is False (the HTTP API's status and the metrics, which do not show them), every strategy's
    figures."""
    now_ms = WallClock().now_ms()
    with engine.connect() as connection:
        beat = connection.execute(select(HEARTBEAT)).mappings().first()
        policy_row = (
            connection.execute(select(POLICY_SNAPSHOTS).order_by(POLICY_SNAPSHOTS.c.id.desc()).limit(1))
            .mappings()
            .first()
        )
        foreign = foreign_positions.load(connection)
        costs = _costs(records.load_state(connection, cost_metrics.COST_METRICS))
        account_lease = inspection.account_lease(connection, now_ms)
        by_strategy = [figures.as_dict() for figures in figures_by_strategy(connection)] if strategies else []
    prices = json.loads(beat["prices"]) if beat else {}
    marks = prices.get("marks")  # written beside the closes by the Binance feed only
    marks = marks if isinstance(marks, dict) else {}
    positions = []
    for row in inspection.positions(engine, open_only=True):
        last, mark = prices.get(row["symbol"]), marks.get(row["symbol"])
        reference = mark if mark is not None else last  # Binance values open positions at the mark price
        pnl = None
        if reference is not None and row["entry_price"] is not None:
            sign = 1 if row["side"] == "LONG" else -1
            open_qty = Decimal(row["open_quantity"])
            pnl = str(((Decimal(reference) - Decimal(row["entry_price"])) * sign * open_qty).quantize(Decimal("0.01")))
        positions.append({**row, "last_price": last, "mark_price": mark, "unrealized_pnl": pnl})
    return {
        "service": {
            "running": running,
            "pid": beat["pid"] if beat else None,
            "heartbeat_at": inspection.iso(beat["at"]) if beat else None,
            "heartbeat_age_s": round((now_ms - beat["at"]) / 1000, 3) if beat else None,
            "version": beat["version"] if beat else None,
        },
        "lease": account_lease,
        "gate": inspection.gate(engine),
        "policy": json.loads(policy_row["policy"])
        | {"at": inspection.iso(policy_row["at"]), "enforced": policy_row["enforced"]}
        if policy_row
        else None,
        "costs": costs,
        "strategies": by_strategy,
        "positions": positions,
        "marks": marks,
        "foreign_positions": [
            {
                "symbol": p.symbol,
                "side": p.side,
                "quantity": str(p.quantity),
                "first_seen": inspection.iso(p.first_seen),
                "last_seen": inspection.iso(p.last_seen),
            }
            for p in foreign
        ],
    }


def _costs(value: Any) -> dict[str, Any] | None:
    """The cost-metrics row as JSON for a person or a program; None when there is none (or it cannot be read:
    status never fails on it)."""
    if value is None:
        return None
    try:
        metrics = cost_metrics.decode(value)
    except ValueError:
        return None
    return {**cost_metrics.encode(metrics), "at": inspection.iso(metrics.at)}
