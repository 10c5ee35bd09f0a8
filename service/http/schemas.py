"""The API's response shapes, for its OpenAPI document: money and prices as decimal strings, times ISO 8601 UTC."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Problem(BaseModel):
    detail: str


class Position(_Row):
    id: str
    symbol: str
    side: str
    state: str
    seq: int
    client_order_id: str
    quantity: str
    filled_quantity: str
    open_quantity: str
    entry_price: str | None
    exit_price: str | None
    stop_price: str | None
    take_profit_price: str | None
    realized_pnl: str
    fees: str
    exit_mode: str
    close_reason: str | None
    created_at: str
    opened_at: str | None
    closed_at: str | None


class Transition(_Row):
    id: int
    at: str
    machine: str
    entity_id: str
    seq: int
    source: str | None = Field(alias="from")
    to: str
    trigger: str
    reason: str
    payload: Any


class Order(_Row):
    id: int
    position_id: str
    client_order_id: str
    exchange_order_id: str | None
    purpose: str
    side: str
    type: str
    quantity: str
    trigger_price: str | None
    reduce_only: bool
    status: str
    filled_quantity: str
    average_price: str | None
    reject_code: int | None
    reject_message: str | None
    created_at: str
    updated_at: str


class Fill(_Row):
    id: int
    order_id: int
    client_order_id: str
    purpose: str
    trade_id: str
    quantity: str
    price: str
    fee: str
    fee_asset: str
    realized_pnl: str
    at: str


class Decision(_Row):
    id: int
    at: str
    signal_id: str
    symbol: str
    side: str
    confidence: float
    source: str
    reason: str
    detail: str
    position_id: str | None


class DecisionCount(_Row):
    at: str
    reason: str
    count: int


class PolicySnapshot(_Row):
    id: int
    at: str
    enforced: bool
    note: str
    policy: dict[str, Any]
    inputs: dict[str, Any]


class EquityPoint(_Row):
    id: int
    at: str
    equity: str
    wallet: str
    unrealized_pnl: str
    day_start_equity: str
    daily_drawdown_pct: float


Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    limit: int
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page; null: no more")


class PositionPage(BaseModel):
    items: list[Position]
    limit: int
    offset: int


class PositionDetail(BaseModel):
    position: Position
    details: dict[str, Any]
    orders: list[Order]
    fills: list[Fill]
    transitions: list[Transition]


class Status(BaseModel):
    """`quantum-trader status --json`, plus the streams' health when served by the running service."""

    model_config = ConfigDict(extra="allow")
    service: dict[str, Any]
    lease: dict[str, Any] | None
    gate: dict[str, Any] | None
    policy: dict[str, Any] | None
    positions: list[dict[str, Any]]
    streams: dict[str, str] | None
    last_event_age_s: float | None
    read_only: bool


class GateCommand(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="why: recorded on the gate transition")


class GateOutcome(BaseModel):
    outcome: str
    gate: dict[str, Any] | None
