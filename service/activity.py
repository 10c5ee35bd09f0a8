"""What the service did lately, read from the database: the figures of the summary line and the daily summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, func, select

from persistence.tables import EQUITY_SNAPSHOTS, GATE, POSITIONS, SIGNAL_DECISIONS
from state_machines import POSITION_TABLE


@dataclass(frozen=True, slots=True)
class Decisions:
    last_id: int  # the newest decision counted: the next count starts after it
    signals: int  # distinct signals decided
    by_reason: Counter[str]

    def describe(self) -> str:
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(self.by_reason.items()))
        return f"{self.signals} signal(s), decisions: {reasons or 'none'}"


def decisions_after(connection: Connection, after_id: int) -> Decisions:
    rows = connection.execute(
        select(SIGNAL_DECISIONS.c.id, SIGNAL_DECISIONS.c.signal_id, SIGNAL_DECISIONS.c.reason).where(
            SIGNAL_DECISIONS.c.id > after_id
        )
    ).all()
    return Decisions(
        last_id=max((row.id for row in rows), default=after_id),
        signals=len({row.signal_id for row in rows}),
        by_reason=Counter(row.reason for row in rows),
    )


def last_decision_id(connection: Connection) -> int:
    return int(connection.execute(select(func.max(SIGNAL_DECISIONS.c.id))).scalar() or 0)


def open_positions(connection: Connection) -> int:
    final = [str(state) for state in POSITION_TABLE.final]
    return int(connection.execute(select(func.count()).where(POSITIONS.c.state.not_in(final))).scalar() or 0)


def equity(connection: Connection) -> Decimal | None:
    """The last equity the risk actor recorded (None before the first)."""
    row = connection.execute(select(EQUITY_SNAPSHOTS.c.equity).order_by(EQUITY_SNAPSHOTS.c.id.desc()).limit(1)).first()
    return None if row is None else Decimal(row.equity)


def gate(connection: Connection) -> str:
    """`open`, or the state with its reason (`halted: maintenance`); `not created` before the first start."""
    row = connection.execute(select(GATE.c.state, GATE.c.reason)).first()
    if row is None:
        return "not created"
    return row.state if row.state == "open" or not row.reason else f"{row.state}: {row.reason}"


@dataclass(frozen=True, slots=True)
class Trades:
    closed: int
    net_pnl: Decimal  # realised PnL less fees


def trades_closed(connection: Connection, start_ms: int, end_ms: int) -> Trades:
    """Positions closed in [start_ms, end_ms): how many, and what they made after fees."""
    rows = connection.execute(
        select(POSITIONS.c.realized_pnl, POSITIONS.c.fees).where(
            POSITIONS.c.closed_at >= start_ms, POSITIONS.c.closed_at < end_ms, POSITIONS.c.state == "closed"
        )
    ).all()
    return Trades(closed=len(rows), net_pnl=sum((Decimal(r.realized_pnl) - Decimal(r.fees) for r in rows), Decimal(0)))


def money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.2f}"
