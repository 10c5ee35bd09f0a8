"""The database schema as SQLAlchemy 2 typed models.

Times are UTC milliseconds (integers: exact and portable); prices, quantities and
money are Decimals stored as text, never binary floats.

Times and row ids are 64-bit (`Millis`, `RowId`): a time in milliseconds passed 2^31 in January 1970, and a
32-bit column refuses it on PostgreSQL. SQLite keeps its own `INTEGER` for them: it stores every integer in up
to 8 bytes whatever the declared type, and only a column declared exactly `INTEGER PRIMARY KEY` is the rowid
that numbers new rows (a `BIGINT PRIMARY KEY` would not).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class DecimalText(TypeDecorator[Decimal]):
    """A Decimal kept exactly as its text, on every backend."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return str(Decimal(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


# 64-bit on PostgreSQL; SQLite's INTEGER is already 64-bit (see the module's docstring).
Millis = BigInteger().with_variant(Integer(), "sqlite")
RowId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {Decimal: DecimalText()}


class Position(Base):
    __tablename__ = "positions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    side: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(24), index=True)
    seq: Mapped[int]
    client_order_id: Mapped[str] = mapped_column(String(36), unique=True)
    quantity: Mapped[Decimal]
    filled_quantity: Mapped[Decimal]
    entry_price: Mapped[Decimal | None]
    exit_price: Mapped[Decimal | None]
    stop_price: Mapped[Decimal | None]
    take_profit_price: Mapped[Decimal | None]
    realized_pnl: Mapped[Decimal]
    fees: Mapped[Decimal]
    exit_mode: Mapped[str] = mapped_column(String(24))
    signal_id: Mapped[str | None] = mapped_column(String(64))
    close_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(Millis)
    opened_at: Mapped[int | None] = mapped_column(Millis)
    closed_at: Mapped[int | None] = mapped_column(Millis)
    details: Mapped[str] = mapped_column(Text, default="{}")


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    position_id: Mapped[str] = mapped_column(ForeignKey("positions.id"), index=True)
    client_order_id: Mapped[str] = mapped_column(String(36), unique=True)
    exchange_order_id: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(16))
    side: Mapped[str] = mapped_column(String(8))
    type: Mapped[str] = mapped_column(String(24))
    quantity: Mapped[Decimal]
    trigger_price: Mapped[Decimal | None]
    reduce_only: Mapped[bool]
    status: Mapped[str] = mapped_column(String(24))
    filled_quantity: Mapped[Decimal]
    average_price: Mapped[Decimal | None]
    reject_code: Mapped[int | None]
    reject_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(Millis)
    updated_at: Mapped[int] = mapped_column(Millis)


class Fill(Base):
    __tablename__ = "fills"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(RowId, ForeignKey("orders.id"), index=True)
    trade_id: Mapped[str] = mapped_column(String(64), unique=True)
    quantity: Mapped[Decimal]
    price: Mapped[Decimal]
    fee: Mapped[Decimal]
    fee_asset: Mapped[str] = mapped_column(String(12), server_default="USDT")  # BNB when Binance took it in BNB
    realized_pnl: Mapped[Decimal]
    at: Mapped[int] = mapped_column(Millis)


class Transition(Base):
    """Append-only audit of every state change; the database refuses UPDATE and DELETE."""

    __tablename__ = "transitions"
    __table_args__ = (
        UniqueConstraint("machine", "entity_id", "seq", name="uq_transitions_entity_seq"),
        Index("ix_transitions_at", "at"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    machine: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int]
    source: Mapped[str] = mapped_column(String(24))
    dest: Mapped[str] = mapped_column(String(24))
    trigger: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    at: Mapped[int] = mapped_column(Millis)
    lease_token: Mapped[int | None] = mapped_column(Millis)  # the fencing token of the owner that wrote it


class Gate(Base):
    __tablename__ = "gate"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    locked_until: Mapped[int | None] = mapped_column(Millis)
    updated_at: Mapped[int] = mapped_column(Millis)


class PolicySnapshot(Base):
    __tablename__ = "policy_snapshots"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(Millis, index=True)
    enforced: Mapped[bool]
    policy: Mapped[str] = mapped_column(Text)
    inputs: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text)


class SignalDecision(Base):
    __tablename__ = "signal_decisions"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    signal_id: Mapped[str] = mapped_column(String(96), index=True)
    at: Mapped[int] = mapped_column(Millis, index=True)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    confidence: Mapped[float]
    source: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(Text)
    position_id: Mapped[str | None] = mapped_column(String(64))


class StrategyFault(Base):
    """A strategy's candle whose output was dropped (it raised, returned garbage or ran over its budget), or the
    fault that disabled it (`disabled`). Append-only, like the decisions."""

    __tablename__ = "strategy_faults"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(Millis, index=True)
    strategy: Mapped[str] = mapped_column(String(32), index=True)
    symbol: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    disabled: Mapped[bool]


class EquitySnapshot(Base):
    __tablename__ = "equity_snapshots"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(Millis, index=True)
    equity: Mapped[Decimal]
    wallet: Mapped[Decimal]
    unrealized_pnl: Mapped[Decimal]
    day_start_equity: Mapped[Decimal]
    daily_drawdown_pct: Mapped[float]


class Heartbeat(Base):
    __tablename__ = "heartbeat"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    pid: Mapped[int]
    started_at: Mapped[int] = mapped_column(Millis)
    at: Mapped[int] = mapped_column(Millis)
    version: Mapped[str] = mapped_column(String(32))
    prices: Mapped[str] = mapped_column(Text, default="{}")  # last price per symbol, for `status`


class OperatorCommand(Base):
    __tablename__ = "operator_commands"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(Millis)
    command: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    processed_at: Mapped[int | None] = mapped_column(Millis)
    outcome: Mapped[str | None] = mapped_column(Text)


class ServiceState(Base):
    """Small pieces of the service's own state that must survive a restart, by name, as JSON: the inbox cursor
    (with the file's identity), an exchange ban's end, the client-id salt."""

    __tablename__ = "service_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[int] = mapped_column(BigInteger)  # BIGINT on both since 0003


class ExchangeState(Base):
    """The paper exchange's account, so a paper account survives a restart."""

    __tablename__ = "exchange_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[int] = mapped_column(Millis)


class AccountLease(Base):
    """Who trades an account (one row per account key), until when, and the fencing token that grows with every
    new owner (see persistence/lease.py)."""

    __tablename__ = "account_lease"

    account_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    token: Mapped[int] = mapped_column(Millis)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    instance: Mapped[str] = mapped_column(String(64))
    acquired_at: Mapped[int] = mapped_column(Millis)
    renewed_at: Mapped[int] = mapped_column(Millis)
    expires_at: Mapped[int] = mapped_column(Millis)


class LeaseStandby(Base):
    """A process waiting to take an account's lease over (`run --standby`), seen at its last poll."""

    __tablename__ = "lease_standbys"

    instance: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_key: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    since: Mapped[int] = mapped_column(Millis)
    seen_at: Mapped[int] = mapped_column(Millis)
