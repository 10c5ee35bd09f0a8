"""The strategies' records: their faults (`strategy_faults`), and every strategy's figures from the decisions and
positions its signals led to (`signal_decisions.source` names the strategy; a position names its signal)."""

from __future__ import annotations

from collections import defaultdict
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
    """Every source that has a decision, a position or a fault, sorted by name."""
    found: dict[str, StrategyFigures] = {}

    def of(source: str) -> StrategyFigures:
        return found.setdefault(source, StrategyFigures(source=source))

    source_of: dict[str, str] = {}
    signals: dict[str, set[str]] = defaultdict(set)
    rows = connection.execute(
        select(SIGNAL_DECISIONS.c.signal_id, SIGNAL_DECISIONS.c.source, SIGNAL_DECISIONS.c.reason).order_by(
            SIGNAL_DECISIONS.c.id
        )
    )
    for signal_id, source, reason in rows:
        figures = of(source)
        figures.decisions[reason] = figures.decisions.get(reason, 0) + 1
        signals[source].add(signal_id)
        source_of.setdefault(signal_id, source)
    for source, ids in signals.items():
        of(source).signals = len(ids)
    positions = connection.execute(
        select(POSITIONS.c.signal_id, POSITIONS.c.state, POSITIONS.c.realized_pnl, POSITIONS.c.fees)
    )
    for signal_id, state, realized, fees in positions:
        figures = of(source_of.get(signal_id or "", OTHER))
        figures.positions += 1
        if state == CLOSED:
            net = Decimal(realized) - Decimal(fees)
            figures.closed += 1
            figures.wins += net > 0
            figures.net_pnl += net
    faults = connection.execute(
        select(STRATEGY_FAULTS.c.strategy, func.count()).group_by(STRATEGY_FAULTS.c.strategy)
    ).all()
    for strategy, count in faults:
        of(strategy).faults = int(count)
    disabling = connection.execute(
        select(STRATEGY_FAULTS.c.strategy, STRATEGY_FAULTS.c.detail)
        .where(STRATEGY_FAULTS.c.disabled.is_(True))
        .order_by(STRATEGY_FAULTS.c.id)
    )
    for strategy, detail in disabling:
        of(strategy).disabled = detail
    return [found[name] for name in sorted(found)]
