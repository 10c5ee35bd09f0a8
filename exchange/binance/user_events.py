"""The user-data stream's messages: order, algo and account updates and the listen key's expiry, read into frozen
dataclasses, and order and algo updates into the port's types. Pure: no I/O.

A parser takes one decoded JSON message (bare, or wrapped as `{"stream": ...,
"data": ...}`). Anything else than what the service reads comes back as
`UnknownEvent` rather than raising: Binance adds events (TRADE_LITE,
STRATEGY_UPDATE, ...) without notice and a stream reader must not die on one.
A known event with a field missing, of the wrong type or not a number raises
(KeyError, TypeError, ValueError, InvalidOperation): the stream counts the frame
and skips it (`websocket.FRAME_ERRORS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from exchange.binance.payloads import (
    REGULAR_STATUS,
    UnknownEvent,
    algo_status,
    blank_as_zero,
    flag,
    order_type,
    text,
    unwrap,
    zero_as_none,
)
from exchange.port import Fill, OrderSide, OrderState


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderTradeUpdate:
    """ORDER_TRADE_UPDATE: one change of one regular order, with the trade if it executed."""

    event_time: int
    transaction_time: int
    symbol: str
    client_order_id: str
    order_id: int
    side: str
    order_type: str  # `o`: MARKET for the order a triggered STOP_MARKET became
    original_type: str  # `ot`: STOP_MARKET for that same order
    execution_type: str  # NEW, TRADE, CANCELED, EXPIRED, CALCULATED (liquidation / ADL), AMENDMENT
    status: str  # NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, EXPIRED_IN_MATCH, NEW_ADL, ...
    quantity: Decimal
    price: Decimal
    avg_price: Decimal
    stop_price: Decimal | None
    last_qty: Decimal
    cum_qty: Decimal
    last_price: Decimal
    fee: Decimal
    fee_asset: str | None
    trade_id: int
    reduce_only: bool
    position_side: str
    realized_pnl: Decimal

    @property
    def is_trade(self) -> bool:
        """An execution happened (a TRADE, or a liquidation / ADL fill reported as CALCULATED)."""
        return self.last_qty > 0 and self.execution_type in ("TRADE", "CALCULATED")


@dataclass(frozen=True, slots=True, kw_only=True)
class AlgoUpdate:
    """ALGO_UPDATE: one change of a conditional order held by the algo service."""

    event_time: int
    transaction_time: int
    symbol: str
    client_algo_id: str
    algo_id: int
    order_type: str
    side: str
    quantity: Decimal
    status: str  # NEW, TRIGGERING, TRIGGERED, FINISHED, CANCELED, EXPIRED, REJECTED
    trigger_price: Decimal
    actual_order_id: int | None  # the regular order it became, once triggered
    avg_price: Decimal
    filled_qty: Decimal
    reduce_only: bool
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceChange:
    asset: str
    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    balance_change: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionChange:
    symbol: str
    quantity: Decimal  # the position's amount after the change, signed
    entry_price: Decimal
    accumulated_realized: Decimal
    unrealized_pnl: Decimal
    margin_type: str
    position_side: str  # BOTH in one-way mode


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountUpdate:
    """ACCOUNT_UPDATE: balances and positions after a change (an order, funding, a transfer, ...)."""

    event_time: int
    transaction_time: int
    reason: str  # ORDER, FUNDING_FEE, DEPOSIT, ...
    balances: tuple[BalanceChange, ...]
    positions: tuple[PositionChange, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenKeyExpired:
    event_time: int
    listen_key: str


UserEvent = OrderTradeUpdate | AlgoUpdate | AccountUpdate | ListenKeyExpired | UnknownEvent


def parse_user_event(message: dict[str, Any]) -> UserEvent:
    data = unwrap(message)
    kind = str(data.get("e", ""))
    if kind == "ORDER_TRADE_UPDATE":
        return _order_trade_update(data)
    if kind == "ALGO_UPDATE":
        return _algo_update(data)
    if kind == "ACCOUNT_UPDATE":
        return _account_update(data)
    if kind == "listenKeyExpired":
        return ListenKeyExpired(event_time=int(data["E"]), listen_key=str(data.get("listenKey", "")))
    return UnknownEvent(event_type=kind, data=data)


def _order_trade_update(data: dict[str, Any]) -> OrderTradeUpdate:
    o = data["o"]
    return OrderTradeUpdate(
        event_time=int(data["E"]),
        transaction_time=int(data.get("T", data["E"])),
        symbol=text(o["s"]),
        client_order_id=text(o["c"]),
        order_id=int(o["i"]),
        side=text(o["S"]),
        order_type=text(o["o"]),
        original_type=text(o.get("ot") or o["o"]),
        execution_type=text(o["x"]),
        status=text(o["X"]),
        quantity=blank_as_zero(o["q"]),
        price=blank_as_zero(o.get("p")),
        avg_price=blank_as_zero(o.get("ap")),
        stop_price=zero_as_none(o.get("sp")),
        last_qty=blank_as_zero(o.get("l")),
        cum_qty=blank_as_zero(o.get("z")),
        last_price=blank_as_zero(o.get("L")),
        fee=blank_as_zero(o.get("n")),
        fee_asset=o.get("N"),
        trade_id=int(o.get("t") or 0),
        reduce_only=flag(o.get("R", False)),
        position_side=o.get("ps", "BOTH"),
        realized_pnl=blank_as_zero(o.get("rp")),
    )


def _algo_update(data: dict[str, Any]) -> AlgoUpdate:
    o = data["o"]
    actual = o.get("ai") or ""
    return AlgoUpdate(
        event_time=int(data["E"]),
        transaction_time=int(data.get("T", data["E"])),
        symbol=text(o["s"]),
        client_algo_id=text(o["caid"]),
        algo_id=int(o["aid"]),
        order_type=text(o["o"]),
        side=text(o["S"]),
        quantity=blank_as_zero(o["q"]),
        status=text(o["X"]),
        trigger_price=blank_as_zero(o.get("tp")),
        actual_order_id=int(actual) if actual else None,
        avg_price=blank_as_zero(o.get("ap")),
        filled_qty=blank_as_zero(o.get("aq")),
        reduce_only=flag(o.get("R", False)),
        reason=str(o.get("rm") or ""),
    )


def _account_update(data: dict[str, Any]) -> AccountUpdate:
    a = data["a"]
    return AccountUpdate(
        event_time=int(data["E"]),
        transaction_time=int(data.get("T", data["E"])),
        reason=text(a.get("m", "")),
        balances=tuple(
            BalanceChange(
                asset=text(b["a"]),
                wallet_balance=blank_as_zero(b["wb"]),
                cross_wallet_balance=blank_as_zero(b.get("cw")),
                balance_change=blank_as_zero(b.get("bc")),
            )
            for b in a.get("B", ())
        ),
        positions=tuple(
            PositionChange(
                symbol=text(p["s"]),
                quantity=blank_as_zero(p["pa"]),
                entry_price=blank_as_zero(p["ep"]),
                accumulated_realized=blank_as_zero(p.get("cr")),
                unrealized_pnl=blank_as_zero(p.get("up")),
                margin_type=text(p.get("mt", "")),
                position_side=text(p.get("ps", "BOTH")),
            )
            for p in a.get("P", ())
        ),
    )


# --- as the port's types ---------------------------------------------------------------------------------------------


def order_from_update(u: OrderTradeUpdate) -> OrderState | None:
    """The port's view of a regular order after an ORDER_TRADE_UPDATE (None: not a port order type)."""
    kind = order_type(u.order_type)
    status = REGULAR_STATUS.get(u.status)
    if kind is None or status is None:
        return None
    return OrderState(
        client_order_id=u.client_order_id,
        exchange_order_id=u.order_id,
        symbol=u.symbol,
        side=OrderSide(u.side),
        type=kind,
        quantity=u.quantity,
        trigger_price=u.stop_price,
        reduce_only=u.reduce_only,
        status=status,
        filled_qty=u.cum_qty,
        avg_price=u.avg_price if u.cum_qty else None,
        updated_at=u.transaction_time,
    )


def order_from_algo_update(u: AlgoUpdate, *, canceled_by_us: bool) -> OrderState | None:
    """None for TRIGGERING / TRIGGERED: nothing the port's caller can act on yet."""
    kind = order_type(u.order_type)
    if kind is None or u.status in ("TRIGGERING", "TRIGGERED"):
        return None
    return OrderState(
        client_order_id=u.client_algo_id,
        exchange_order_id=u.algo_id,
        symbol=u.symbol,
        side=OrderSide(u.side),
        type=kind,
        quantity=u.quantity,
        trigger_price=u.trigger_price,
        reduce_only=u.reduce_only,
        status=algo_status(u.status, u.filled_qty, canceled_by_us),
        filled_qty=u.filled_qty,
        avg_price=u.avg_price if u.filled_qty else None,
        updated_at=u.transaction_time,
    )


def fill_from_update(u: OrderTradeUpdate, client_order_id: str | None = None) -> Fill | None:
    if not u.is_trade:
        return None
    return Fill(
        client_order_id=client_order_id or u.client_order_id,
        symbol=u.symbol,
        side=OrderSide(u.side),
        quantity=u.last_qty,
        price=u.last_price,
        fee=u.fee,
        realized_pnl=u.realized_pnl,
        at=u.transaction_time,
        trade_id=u.trade_id,
        fee_asset=u.fee_asset or "USDT",
    )
