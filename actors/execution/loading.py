"""Rebuilding the execution engine's view after a (re)start, from the database."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Connection, select

from actors.execution.book import LivePosition, TradeRecords
from actors.execution.slippage import SlippageSample, measured_fill
from actors.messages import Side
from config import ExchangeKind
from config.profiles import ExitMode
from config.sections import ExchangeSettings
from exchange.port import OrderSide, OrderStatus
from persistence import foreign_positions, records
from persistence.foreign_positions import ForeignPosition
from persistence.position_details import PositionDetails
from persistence.tables import EQUITY_SNAPSHOTS, FILLS, ORDERS, POSITIONS
from state_machines import PositionModel

CLIENT_ID_SALT = "client-id-salt"


def load_live_positions(connection: Connection, models: dict[str, PositionModel]) -> dict[str, LivePosition]:
    if not models:
        return {}
    rows = connection.execute(select(POSITIONS).where(POSITIONS.c.id.in_(list(models)))).mappings().all()
    connection.rollback()
    live = {}
    for row in rows:
        position = LivePosition(
            model=models[row["id"]],
            symbol=row["symbol"],
            side=Side(row["side"]),
            quantity=row["quantity"],
            exit_mode=ExitMode(row["exit_mode"]),
            stop_distance=Decimal(0),
            filled=row["filled_quantity"],
            entry_price=row["entry_price"],
            stop_price=row["stop_price"],
            take_profit_price=row["take_profit_price"],
            realized_pnl=row["realized_pnl"],
            fees=row["fees"],
            created_at=row["created_at"],
        )
        position.restore_details(PositionDetails.from_json(row["details"]))
        live[position.id] = position
    _load_applied_fills(connection, live)
    return live


def _load_applied_fills(connection: Connection, live: dict[str, LivePosition]) -> None:
    """Each live position's fills applied so far, per client order id and by trade id: a fill told again
    (by the stream, a resync or a lookup) is never applied twice."""
    query = (
        select(ORDERS.c.position_id, ORDERS.c.client_order_id, FILLS.c.trade_id, FILLS.c.quantity)
        .join(ORDERS, FILLS.c.order_id == ORDERS.c.id)
        .where(ORDERS.c.position_id.in_(list(live)))
    )
    for row in connection.execute(query):
        position = live[row.position_id]
        position.applied[row.client_order_id] = position.applied.get(row.client_order_id, Decimal(0)) + row.quantity
        position.trades.add(row.trade_id)
    connection.rollback()


def load_trade_records(connection: Connection) -> TradeRecords:
    """Closed trades in the order they closed: per-symbol performance and the losing streak."""
    query = (
        select(
            POSITIONS.c.symbol,
            POSITIONS.c.realized_pnl,
            POSITIONS.c.fees,
            POSITIONS.c.details,
            POSITIONS.c.filled_quantity,
            POSITIONS.c.closed_at,
        )
        .where(POSITIONS.c.state == "closed")
        .order_by(POSITIONS.c.closed_at, POSITIONS.c.id)
    )
    trade_records = TradeRecords()
    for row in connection.execute(query):
        net = row.realized_pnl - row.fees
        r = PositionDetails.from_json(row.details).r_multiple(net, row.filled_quantity)
        trade_records.add(row.symbol, net, r, row.closed_at or 0)
    connection.rollback()
    return trade_records


_FINAL = [str(status) for status in OrderStatus if status.is_final]


def load_slippage_samples(connection: Connection, since: int | None = None) -> list[SlippageSample]:
    """The slippage of every filled order of ours reported after `since` (all of them without), oldest first:
    the execution engine's recent measure after a restart, and the replay report's run-wide one."""
    query = (
        select(
            ORDERS.c.client_order_id,
            ORDERS.c.purpose,
            ORDERS.c.side,
            ORDERS.c.trigger_price,
            ORDERS.c.average_price,
            ORDERS.c.updated_at,
            POSITIONS.c.symbol,
            POSITIONS.c.details,
        )
        .join(POSITIONS, ORDERS.c.position_id == POSITIONS.c.id)
        .where(ORDERS.c.filled_quantity > 0, ORDERS.c.average_price.is_not(None), ORDERS.c.status.in_(_FINAL))
        .order_by(ORDERS.c.updated_at, ORDERS.c.id)
    )
    if since is not None:
        query = query.where(ORDERS.c.updated_at > since)
    samples = []
    for row in connection.execute(query):
        try:
            decision_price = PositionDetails.from_json(row.details).decision_price
        except ValueError:
            decision_price = None  # a broken row measures its triggered exits only
        sample = measured_fill(
            key=row.client_order_id,
            symbol=row.symbol,
            purpose=row.purpose,
            side=OrderSide(row.side),
            average_price=row.average_price,
            trigger_price=row.trigger_price,
            decision_price=decision_price,
            at=row.updated_at,
        )
        if sample is not None:
            samples.append(sample)
    connection.rollback()
    return samples


def client_id_prefix(connection: Connection, exchange: ExchangeSettings) -> str:
    """What every client order id of this database starts with: the configured prefix and, on a real exchange,
    the database's salt (a paper account lives in its own database: no other can share it, and a replay stays
    the same run after run)."""
    if exchange.kind is ExchangeKind.PAPER:
        return exchange.client_id_prefix
    salt = records.load_state(connection, CLIENT_ID_SALT) or ""
    connection.rollback()
    return f"{exchange.client_id_prefix}{salt}"


def latest_equity(connection: Connection) -> Decimal | None:
    """The last equity recorded, for the portfolio until the exchange answers."""
    value = connection.execute(
        select(EQUITY_SNAPSHOTS.c.equity).order_by(EQUITY_SNAPSHOTS.c.id.desc()).limit(1)
    ).scalar()
    connection.rollback()
    return value


def latest_day_start(connection: Connection, day: int) -> Decimal | None:
    """The day's starting equity, if this UTC day already had a snapshot (a restart mid-day keeps it)."""
    query = (
        select(EQUITY_SNAPSHOTS.c.day_start_equity)
        .where(EQUITY_SNAPSHOTS.c.at >= day * 86_400_000)
        .order_by(EQUITY_SNAPSHOTS.c.id.desc())
        .limit(1)
    )
    value = connection.execute(query).scalar()
    connection.rollback()
    return value


def load_foreign_positions(connection: Connection) -> tuple[ForeignPosition, ...]:
    """The positions that are not ours as the last reconcile (of a previous run, maybe) saw them."""
    kept = foreign_positions.load(connection)
    connection.rollback()
    return kept
