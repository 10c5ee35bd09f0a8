"""The strategies' records: their faults (`strategy_faults`), and every strategy's figures from the decisions and
positions its signals led to (`signal_decisions.source` names the strategy; a position names its signal)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, String, func, insert, select, type_coerce

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
        figures = found.get(source)
        if figures is None:
            figures = found[source] = StrategyFigures(source=source)
        return figures

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
# The source of a position's signal's first decision: one index search a position.
_ORIGIN = (
    select(SIGNAL_DECISIONS.c.source)
    .where(SIGNAL_DECISIONS.c.signal_id == POSITIONS.c.signal_id)
    .order_by(SIGNAL_DECISIONS.c.id)
    .limit(1)
    .correlate(POSITIONS)
    .scalar_subquery()
    .label("source")
)
_POSITIONS_BY_SOURCE = select(_ORIGIN, func.count()).select_from(POSITIONS).group_by(_ORIGIN)
# Money as the stored text (Decimal(text) below is exact, and skips the column type's per-row conversion).
_CLOSED_BY_SOURCE = select(
    _ORIGIN, type_coerce(POSITIONS.c.realized_pnl, String()), type_coerce(POSITIONS.c.fees, String())
).where(POSITIONS.c.state == CLOSED)
_FAULTS_BY_STRATEGY = select(STRATEGY_FAULTS.c.strategy, func.count()).group_by(STRATEGY_FAULTS.c.strategy)
_DISABLING = (
    select(STRATEGY_FAULTS.c.strategy, STRATEGY_FAULTS.c.detail)
    .where(STRATEGY_FAULTS.c.disabled.is_(True))
    .order_by(STRATEGY_FAULTS.c.id)
)
