"""What the protections beyond the day start from after a (re)start, read from the database: the equity of the
drawdown window, the stop-outs that may still cool a symbol down, and the operator's last resume."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from actors.protections import EquityPeak, StopOutGuard, is_stop_out
from persistence.tables import EQUITY_SNAPSHOTS, POSITIONS, TRANSITIONS
from state_machines import GATE_TABLE, GateTrigger, PositionState


def load_equity_peak(connection: Connection, peak: EquityPeak, now: int) -> None:
    """The equity snapshots of the window (hourly, and at every close), from the operator's last resume on: a
    resume takes the account as it stands, so what came before it no longer counts."""
    since = max(now - peak.window_ms, last_resume(connection) or 0)
    rows = connection.execute(
        select(EQUITY_SNAPSHOTS.c.at, EQUITY_SNAPSHOTS.c.equity)
        .where(EQUITY_SNAPSHOTS.c.at > since)
        .order_by(EQUITY_SNAPSHOTS.c.at, EQUITY_SNAPSHOTS.c.id)
    )
    for at, equity in rows:
        peak.add(at, equity)
    connection.rollback()


def load_stop_outs(connection: Connection, guard: StopOutGuard, now: int) -> None:
    """Closes by a stop at a loss recent enough to start, or still be part of, a cool-down."""
    rows = connection.execute(
        select(
            POSITIONS.c.symbol,
            POSITIONS.c.closed_at,
            POSITIONS.c.close_reason,
            POSITIONS.c.realized_pnl,
            POSITIONS.c.fees,
        ).where(POSITIONS.c.state == PositionState.CLOSED, POSITIONS.c.closed_at >= now - guard.lookback_ms)
    )
    for symbol, closed_at, close_reason, realized_pnl, fees in rows:
        if is_stop_out(close_reason, realized_pnl - fees):
            guard.record(symbol, closed_at)
    connection.rollback()


def last_resume(connection: Connection) -> int | None:
    """When an operator last resumed the gate, if ever."""
    return connection.execute(
        select(func.max(TRANSITIONS.c.at)).where(
            TRANSITIONS.c.machine == GATE_TABLE.name, TRANSITIONS.c.trigger == GateTrigger.RESUME
        )
    ).scalar()
