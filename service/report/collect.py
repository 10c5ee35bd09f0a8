"""Read a finished replay database (read-only, SQLAlchemy Core) into plain run data.

Nothing here writes: the engine comes from `persistence.db.open_read_only`, so a
report can be built beside, or long after, the run that made the database.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, RowMapping, func, select

from actors.execution.loading import load_slippage_samples
from actors.execution.slippage import SlippageSample
from persistence import cost_metrics, records
from persistence.position_details import PositionDetails
from persistence.store import CREATED
from persistence.strategy_records import StrategyFigures, figures_by_strategy
from persistence.tables import EQUITY_SNAPSHOTS, POLICY_SNAPSHOTS, POSITIONS, SIGNAL_DECISIONS, TRANSITIONS
from service.report.costs import POLICY_FILTER, FilterBlock
from service.report.limits import limits_over_time
from service.report.metrics import EquityCurve, TradeOutcome
from service.report.protections import Cooldowns, ProtectionCount, count_protections
from state_machines.gate import GATE_TABLE
from state_machines.position import POSITION_TABLE, PositionState, PositionTrigger

ZERO = Decimal(0)
_DETAIL_IN_PARENTHESES = re.compile(r"\s*\([^()]*\)")
_SPACES = re.compile(r"\s+")
_ROWS_AT_ONCE = 1000  # rows fetched per round trip from a table read as a stream


@dataclass(frozen=True, slots=True, kw_only=True)
class ClosedTrade:
    """One closed position, money exact."""

    id: str
    symbol: str
    side: str
    entry_price: Decimal | None
    exit_price: Decimal | None
    quantity: Decimal
    realized_pnl: Decimal
    fees: Decimal
    opened_at: int | None
    closed_at: int | None
    close_reason: str | None
    exit_mode: str
    r_multiple: float | None  # net PnL in units of the initial risk; None when the position did not record it

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl - self.fees

    def outcome(self) -> TradeOutcome:
        return TradeOutcome(
            realized_pnl=float(self.realized_pnl),
            fees=float(self.fees),
            opened_at=self.opened_at,
            closed_at=self.closed_at,
            r_multiple=self.r_multiple,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class GateEventCount:
    trigger: str
    reason: str
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GateEvent:
    at: int
    source: str
    dest: str
    trigger: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunData:
    trades: tuple[ClosedTrade, ...]
    open_since: tuple[int, ...]  # opened_at of positions still open when the run ended
    positions_by_state: Mapping[str, int]
    equity: EquityCurve
    gate_events: tuple[GateEvent, ...]
    gate_events_by_reason: tuple[GateEventCount, ...]
    decisions_by_reason: Mapping[str, int]
    protections: Mapping[str, ProtectionCount]
    policy_snapshots: int
    enforced_policy_snapshots: int
    transitions: int
    slippage: tuple[SlippageSample, ...] = ()  # every measured fill, oldest first
    costs_seen: cost_metrics.CostMetrics | None = None  # what the policy saw at the last cycle
    filter_blocks: tuple[FilterBlock, ...] = ()
    exit_mode_changes: int = 0  # a more defensive exit mode applied to an open position
    positions_changed_mode: int = 0
    limits: Mapping[str, Any] = field(default_factory=dict)  # limits in force over time (`limits.py`)
    strategies: tuple[StrategyFigures, ...] = ()  # each signal source's figures, by name


def reason_key(reason: str) -> str:
    """A gate reason without its figures, so events group by cause.

    The orchestrator writes reasons like "Daily DD limit hit (-4.12%); EXTREME volatility":
    the parenthesised figures differ on every event, the causes do not.
    """
    parts = (_SPACES.sub(" ", _DETAIL_IN_PARENTHESES.sub("", part)).strip() for part in reason.split(";"))
    return "; ".join(part for part in parts if part) or "(no reason)"


def collect(engine: Engine) -> RunData:
    with engine.connect() as connection:
        position_rows = connection.execute(select(POSITIONS).order_by(POSITIONS.c.id)).mappings().all()
        equity_rows = connection.execute(
            select(EQUITY_SNAPSHOTS.c.at, EQUITY_SNAPSHOTS.c.equity).order_by(
                EQUITY_SNAPSHOTS.c.at, EQUITY_SNAPSHOTS.c.id
            )
        ).all()
        gate_rows = connection.execute(
            select(
                TRANSITIONS.c.at,
                TRANSITIONS.c.source,
                TRANSITIONS.c.dest,
                TRANSITIONS.c.trigger,
                TRANSITIONS.c.reason,
            )
            # The gate's creation on first start is not an event of the run.
            .where(TRANSITIONS.c.machine == GATE_TABLE.name, TRANSITIONS.c.trigger != CREATED)
            .order_by(TRANSITIONS.c.at, TRANSITIONS.c.id)
        ).all()
        decision_rows = connection.execute(
            select(SIGNAL_DECISIONS.c.reason, func.count()).group_by(SIGNAL_DECISIONS.c.reason)
        ).all()
        policy_rows = connection.execute(
            select(POLICY_SNAPSHOTS.c.enforced, func.count()).group_by(POLICY_SNAPSHOTS.c.enforced)
        ).all()
        transition_count = connection.execute(select(func.count()).select_from(TRANSITIONS)).scalar_one()
        block_rows = connection.execute(
            select(SIGNAL_DECISIONS.c.symbol, SIGNAL_DECISIONS.c.detail)
            .where(SIGNAL_DECISIONS.c.reason == POLICY_FILTER)
            .order_by(SIGNAL_DECISIONS.c.id)
        ).all()
        strategies = tuple(figures_by_strategy(connection))
        costs_seen = _costs_seen(records.load_state(connection, cost_metrics.COST_METRICS))
        slippage = tuple(load_slippage_samples(connection))
        mode_changes, positions_changed = connection.execute(
            select(func.count(), func.count(TRANSITIONS.c.entity_id.distinct())).where(
                TRANSITIONS.c.machine == POSITION_TABLE.name,
                TRANSITIONS.c.trigger == PositionTrigger.CHANGE_EXIT_MODE,
            )
        ).one()
        gate_events = tuple(
            GateEvent(at=row.at, source=row.source, dest=row.dest, trigger=row.trigger, reason=row.reason)
            for row in gate_rows
        )
        cooldowns = Cooldowns()
        limits = _limits(connection, [int(row.at) for row in equity_rows[-1:]], cooldowns)
        protections = count_protections(connection, (event.reason for event in gate_events), cooldowns)
    return RunData(
        trades=tuple(
            sorted(
                (_trade(row) for row in position_rows if row["state"] == PositionState.CLOSED),
                key=_trade_order,
            )
        ),
        open_since=tuple(
            row["opened_at"] for row in position_rows if row["opened_at"] is not None and row["state"] in _OPEN_STATES
        ),
        positions_by_state=dict(sorted(Counter(str(row["state"]) for row in position_rows).items())),
        equity=EquityCurve(
            at=tuple(int(row.at) for row in equity_rows),
            equity=tuple(float(row.equity) for row in equity_rows),
        ),
        gate_events=gate_events,
        gate_events_by_reason=_count_gate_events(gate_events),
        decisions_by_reason={str(reason): int(count) for reason, count in sorted(decision_rows)},
        protections=protections,
        policy_snapshots=sum(int(count) for _, count in policy_rows),
        enforced_policy_snapshots=sum(int(count) for enforced, count in policy_rows if enforced),
        transitions=int(transition_count),
        slippage=slippage,
        costs_seen=costs_seen,
        filter_blocks=tuple(FilterBlock(symbol=row.symbol, detail=row.detail or "") for row in block_rows),
        exit_mode_changes=int(mode_changes),
        positions_changed_mode=int(positions_changed),
        strategies=strategies,
        limits=limits,
    )


def _limits(connection: Connection, equity_end: list[int], cooldowns: Cooldowns) -> dict[str, Any]:
    """The limits in force over the run, from the enforced policy snapshots, read as a stream: a year's run holds
    100k of them, too many to hold at once. Every snapshot read is shown to `cooldowns` too, so that each is read
    and decoded once. The run ends at its last equity point or enforced policy, whichever is later."""
    enforced = POLICY_SNAPSHOTS.c.enforced.is_(True)
    last_policy = connection.execute(select(func.max(POLICY_SNAPSHOTS.c.at)).where(enforced)).scalar_one()
    end_at = max(equity_end + ([int(last_policy)] if last_policy is not None else []), default=0)
    rows = connection.execute(
        select(POLICY_SNAPSHOTS.c.at, POLICY_SNAPSHOTS.c.enforced, POLICY_SNAPSHOTS.c.policy)
        .order_by(POLICY_SNAPSHOTS.c.at, POLICY_SNAPSHOTS.c.id)
        .execution_options(yield_per=_ROWS_AT_ONCE)
    )

    def in_force() -> Iterator[tuple[int, Mapping[str, Any]]]:
        for at, is_enforced, text in rows:
            policy = json.loads(text)
            cooldowns.see(policy)
            if is_enforced:
                yield int(at), policy

    return limits_over_time(in_force(), end_at)


def _costs_seen(value: Any) -> cost_metrics.CostMetrics | None:
    """The last cost-metrics row; None for a run without one (or one the report cannot read)."""
    if value is None:
        return None
    try:
        return cost_metrics.decode(value)
    except ValueError:
        return None


# Holding (or possibly holding) a position on the exchange: exposure until the run's end.
_OPEN_STATES = frozenset(
    {
        PositionState.OPEN,
        PositionState.PARTIALLY_CLOSED,
        PositionState.CLOSING,
        PositionState.UNKNOWN,
    }
)


def _trade_order(trade: ClosedTrade) -> tuple[int, str]:
    # Sorted here, not in SQL: backends disagree on where NULL times sort.
    return (trade.closed_at if trade.closed_at is not None else -1, trade.id)


def _count_gate_events(events: tuple[GateEvent, ...]) -> tuple[GateEventCount, ...]:
    counts = Counter((event.trigger, reason_key(event.reason)) for event in events)
    return tuple(
        GateEventCount(trigger=trigger, reason=reason, count=count)
        for (trigger, reason), count in sorted(counts.items())
    )


def _trade(row: RowMapping) -> ClosedTrade:
    filled = row["filled_quantity"] or ZERO
    realized_pnl, fees = row["realized_pnl"] or ZERO, row["fees"] or ZERO
    return ClosedTrade(
        id=row["id"],
        symbol=row["symbol"],
        side=row["side"],
        entry_price=row["entry_price"],
        exit_price=row["exit_price"],
        # A closed position's size is what was filled; the ordered quantity only if nothing was recorded.
        quantity=filled if filled > 0 else row["quantity"],
        realized_pnl=realized_pnl,
        fees=fees,
        opened_at=row["opened_at"],
        closed_at=row["closed_at"],
        close_reason=row["close_reason"],
        exit_mode=row["exit_mode"],
        r_multiple=_r_multiple(row["details"], realized_pnl - fees, filled),
    )


def _r_multiple(details_text: str | None, net_pnl: Decimal, filled: Decimal) -> float | None:
    """R from the risk recorded at entry (the row's stop may have trailed since). An unknown risk, or
    details that do not parse, give no R rather than an R of 0 that would drag the average."""
    try:
        details = PositionDetails.from_json(details_text)
    except ValueError:
        return None
    if details.initial_risk(filled) is None:
        return None
    return details.r_multiple(net_pnl, filled)


# Fixed rounding keeps the JSON text stable across platforms' last-bit float noise.
FLOAT_DIGITS = 6


def jsonable(value: Any) -> Any:
    """Plain JSON data with stable text: floats rounded to FLOAT_DIGITS, Decimals as exact text."""
    if isinstance(value, Enum):  # before str and int: StrEnum and IntEnum are both
        return jsonable(value.value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            return None
        rounded = round(number, FLOAT_DIGITS)
        return 0.0 if rounded == 0 else rounded  # no "-0.0"
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=dumps) if isinstance(value, set | frozenset) else items
    raise TypeError(f"cannot put {type(value).__name__} in a report")


def dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
