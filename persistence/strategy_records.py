"""The strategies' records: their faults (`strategy_faults`), and every strategy's figures from the decisions and
positions its signals led to (`signal_decisions.source` names the strategy; a position names its signal)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, insert, select

from persistence.tables import POSITIONS, SIGNAL_DECISIONS, STRATEGY_FAULTS

INSERT_FAULT = insert(STRATEGY_FAULTS)
ACCEPTED = "ACCEPTED"
CLOSED = "closed"
OTHER = "(no signal)"  # positions adopted from the exchange, or whose signal has no decision


def insert_faults(connection: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    rows = list(rows)
    if rows:
        connection.execute(INSERT_FAULT, rows)


@dataclass(slots=True, kw_only=True)
class StrategyFigures:
    """One source's (a strategy's, or the inbox's) signals and what became of them."""

    source: str
    signals: int = 0  # distinct signal ids decided
    decisions: dict[str, int] = field(default_factory=dict)  # reason -> decision rows
    positions: int = 0
    closed: int = 0
    wins: int = 0
    net_pnl: Decimal = Decimal(0)  # of the closed positions, after fees
    faults: int = 0
    disabled: str = ""  # the fault that disabled it, or ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "signals": self.signals,
            "decisions": dict(sorted(self.decisions.items())),
            "accepted": self.decisions.get(ACCEPTED, 0),
            "positions": self.positions,
            "closed_trades": self.closed,
            "wins": self.wins,
            "net_pnl": str(self.net_pnl),
            "faults": self.faults,
            "disabled": self.disabled or None,
        }


def figures_by_strategy(connection: Connection) -> list[StrategyFigures]:
    """Every source that has a decision, a position or a fault, sorted by name.

    Counts are grouped in SQL; only closed positions come back as rows, for their exact (Decimal) net PnL. A
    position belongs to the source of its signal's first decision."""
    found: dict[str, StrategyFigures] = {}

    def of(source: str) -> StrategyFigures:
        return found.setdefault(source, StrategyFigures(source=source))

    for source, reason, count in connection.execute(_DECISIONS_BY_SOURCE):
        of(source).decisions[reason] = int(count)
    for source, count in connection.execute(_SIGNALS_BY_SOURCE):
        of(source).signals = int(count)
    for source, count in connection.execute(_POSITIONS_BY_SOURCE):
        of(source or OTHER).positions = int(count)
    for source, realized, fees in connection.execute(_CLOSED_BY_SOURCE):
        figures = of(source or OTHER)
        net = Decimal(realized) - Decimal(fees)
        figures.closed += 1
        figures.wins += net > 0
        figures.net_pnl += net
    for strategy, count in connection.execute(_FAULTS_BY_STRATEGY):
        of(strategy).faults = int(count)
    for strategy, detail in connection.execute(_DISABLING):
        of(strategy).disabled = detail
    return [found[name] for name in sorted(found)]


_DECISIONS_BY_SOURCE = select(SIGNAL_DECISIONS.c.source, SIGNAL_DECISIONS.c.reason, func.count()).group_by(
    SIGNAL_DECISIONS.c.source, SIGNAL_DECISIONS.c.reason
)
_SIGNALS_BY_SOURCE = select(SIGNAL_DECISIONS.c.source, func.count(SIGNAL_DECISIONS.c.signal_id.distinct())).group_by(
    SIGNAL_DECISIONS.c.source
)
_FIRST_DECISION = (
    select(func.min(SIGNAL_DECISIONS.c.id).label("id")).group_by(SIGNAL_DECISIONS.c.signal_id).scalar_subquery()
)
_ORIGIN = (
    select(SIGNAL_DECISIONS.c.signal_id, SIGNAL_DECISIONS.c.source)
    .where(SIGNAL_DECISIONS.c.id.in_(_FIRST_DECISION))
    .subquery()
)
_POSITION_ORIGIN = POSITIONS.outerjoin(_ORIGIN, _ORIGIN.c.signal_id == POSITIONS.c.signal_id)
_POSITIONS_BY_SOURCE = select(_ORIGIN.c.source, func.count()).select_from(_POSITION_ORIGIN).group_by(_ORIGIN.c.source)
_CLOSED_BY_SOURCE = (
    select(_ORIGIN.c.source, POSITIONS.c.realized_pnl, POSITIONS.c.fees)
    .select_from(_POSITION_ORIGIN)
    .where(POSITIONS.c.state == CLOSED)
)
_FAULTS_BY_STRATEGY = select(STRATEGY_FAULTS.c.strategy, func.count()).group_by(STRATEGY_FAULTS.c.strategy)
_DISABLING = (
    select(STRATEGY_FAULTS.c.strategy, STRATEGY_FAULTS.c.detail)
    .where(STRATEGY_FAULTS.c.disabled.is_(True))
    .order_by(STRATEGY_FAULTS.c.id)
)
