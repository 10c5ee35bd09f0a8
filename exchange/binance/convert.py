"""Pure conversions between Binance USD-M payloads (REST and stream) and the port's types.

A conditional order is known to the port by the client id we gave it
(`clientAlgoId`); when it triggers, Binance places a regular order with another
id. Its fills are reported under the conditional order's client id, so callers
see one order from placement to fill.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchange.binance.events import ZERO, AlgoUpdate, OrderTradeUpdate, _dec
from exchange.port import (
    Balance, ExchangePosition, Fill, OrderSide, OrderState, OrderStatus, OrderType,
)
from exchange.market import SymbolFilters

_REGULAR_STATUS = {
    "NEW": OrderStatus.NEW, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED, "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED, "REJECTED": OrderStatus.REJECTED, "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}
# Live algo states: the port sees the order as resting until the trigger's outcome is known.
_ALGO_LIVE = ("NEW", "TRIGGERING", "TRIGGERED")
_PORT_TYPES = {t.value: t for t in OrderType}


def filters_from_exchange_info(info: dict[str, Any]) -> dict[str, SymbolFilters]:
    """PRICE_FILTER, LOT_SIZE and MIN_NOTIONAL of every symbol in exchangeInfo."""
    result: dict[str, SymbolFilters] = {}
    for symbol in info.get("symbols", ()):
        f = {x["filterType"]: x for x in symbol.get("filters", ())}
        if "PRICE_FILTER" not in f or "LOT_SIZE" not in f:
            continue
        min_notional = f.get("MIN_NOTIONAL", {})
        result[symbol["symbol"]] = SymbolFilters(
            tick_size=Decimal(f["PRICE_FILTER"]["tickSize"]), step_size=Decimal(f["LOT_SIZE"]["stepSize"]),
            min_qty=Decimal(f["LOT_SIZE"]["minQty"]),
            min_notional=Decimal(min_notional.get("notional", min_notional.get("minNotional", "0"))),
        )
    return result


def order_type(binance_type: str) -> OrderType | None:
    return _PORT_TYPES.get(binance_type)


def order_from_rest(d: dict[str, Any]) -> OrderState | None:
    """GET/POST/DELETE /fapi/v1/order; None for order types the port does not use (LIMIT, ...)."""
    kind = order_type(d.get("origType") or d["type"]) or order_type(d["type"])
    status = _REGULAR_STATUS.get(d["status"])
    if kind is None or status is None:
        return None
    executed = _dec(d.get("executedQty"))
    return OrderState(
        client_order_id=d["clientOrderId"], exchange_order_id=int(d["orderId"]), symbol=d["symbol"],
        side=OrderSide(d["side"]), type=kind, quantity=_dec(d["origQty"]),
        trigger_price=_dec(d.get("stopPrice")) or None, reduce_only=bool(d.get("reduceOnly", False)),
        status=status, filled_qty=executed, avg_price=_dec(d.get("avgPrice")) if executed else None,
        updated_at=int(d.get("updateTime") or d.get("time") or 0),
    )


def algo_from_rest(d: dict[str, Any], actual: dict[str, Any] | None, *, canceled_by_us: bool) -> OrderState | None:
    """An algo order (GET /fapi/v1/algoOrder) and, once finished, the regular order it became."""
    kind = order_type(d.get("orderType") or d.get("type") or "")
    if kind is None:
        return None
    filled = _dec(actual.get("executedQty")) if actual else ZERO
    avg = _dec(actual.get("avgPrice")) if actual else ZERO
    status = _algo_status(d["algoStatus"], filled, canceled_by_us)
    return OrderState(
        client_order_id=d["clientAlgoId"], exchange_order_id=int(d["algoId"]), symbol=d["symbol"],
        side=OrderSide(d["side"]), type=kind, quantity=_dec(d["quantity"]), trigger_price=_dec(d["triggerPrice"]),
        reduce_only=bool(d.get("reduceOnly", False)), status=status, filled_qty=filled,
        avg_price=avg if filled else None, updated_at=int(d.get("updateTime") or d.get("createTime") or 0),
    )


def _algo_status(status: str, filled: Decimal, canceled_by_us: bool) -> OrderStatus:
    if status in _ALGO_LIVE:
        return OrderStatus.NEW
    if status == "FINISHED":
        # FINISHED says only that the triggered order is done; its fill says how.
        return OrderStatus.FILLED if filled > 0 else OrderStatus.EXPIRED
    if status == "CANCELED":
        # The port's CANCELED means "by our cancel_order"; anything else the exchange removed.
        return OrderStatus.CANCELED if canceled_by_us else OrderStatus.EXPIRED
    if status == "REJECTED":
        return OrderStatus.REJECTED
    return OrderStatus.EXPIRED


def order_from_update(u: OrderTradeUpdate) -> OrderState | None:
    """The port's view of a regular order after an ORDER_TRADE_UPDATE (None: not a port order type)."""
    kind = order_type(u.order_type)
    status = _REGULAR_STATUS.get(u.status)
    if kind is None or status is None:
        return None
    return OrderState(
        client_order_id=u.client_order_id, exchange_order_id=u.order_id, symbol=u.symbol, side=OrderSide(u.side),
        type=kind, quantity=u.quantity, trigger_price=u.stop_price, reduce_only=u.reduce_only, status=status,
        filled_qty=u.cum_qty, avg_price=u.avg_price if u.cum_qty else None, updated_at=u.transaction_time,
    )


def order_from_algo_update(u: AlgoUpdate, *, canceled_by_us: bool) -> OrderState | None:
    """None for TRIGGERING / TRIGGERED: nothing the port's caller can act on yet."""
    kind = order_type(u.order_type)
    if kind is None or u.status in ("TRIGGERING", "TRIGGERED"):
        return None
    return OrderState(
        client_order_id=u.client_algo_id, exchange_order_id=u.algo_id, symbol=u.symbol, side=OrderSide(u.side),
        type=kind, quantity=u.quantity, trigger_price=u.trigger_price, reduce_only=u.reduce_only,
        status=_algo_status(u.status, u.filled_qty, canceled_by_us), filled_qty=u.filled_qty,
        avg_price=u.avg_price if u.filled_qty else None, updated_at=u.transaction_time,
    )


def fill_from_update(u: OrderTradeUpdate, client_order_id: str | None = None) -> Fill | None:
    if not u.is_trade:
        return None
    return Fill(
        client_order_id=client_order_id or u.client_order_id, symbol=u.symbol, side=OrderSide(u.side),
        quantity=u.last_qty, price=u.last_price, fee=u.fee, realized_pnl=u.realized_pnl, at=u.transaction_time,
        trade_id=u.trade_id, fee_asset=u.fee_asset or "USDT",
    )


def fill_from_rest_trade(t: dict[str, Any], client_order_id: str) -> Fill:
    """A row of GET /fapi/v1/userTrades."""
    return Fill(
        client_order_id=client_order_id, symbol=t["symbol"], side=OrderSide(t["side"]), quantity=_dec(t["qty"]),
        price=_dec(t["price"]), fee=_dec(t["commission"]), realized_pnl=_dec(t["realizedPnl"]), at=int(t["time"]),
        trade_id=int(t["id"]), fee_asset=t.get("commissionAsset", "USDT"),
    )


def position_from_rest(d: dict[str, Any]) -> ExchangePosition | None:
    """A row of GET /fapi/v3/positionRisk; None when flat."""
    quantity = _dec(d["positionAmt"])
    if quantity == 0:
        return None
    mark = _dec(d.get("markPrice"))
    return ExchangePosition(
        symbol=d["symbol"], quantity=quantity, entry_price=_dec(d["entryPrice"]),
        unrealized_pnl=_dec(d.get("unRealizedProfit")), mark_price=mark or None,
    )


def balance_from_rest(rows: list[dict[str, Any]], asset: str = "USDT") -> Balance:
    """GET /fapi/v3/balance: `balance` is the wallet balance, `crossUnPnl` the unrealized PnL."""
    for row in rows:
        if row.get("asset") == asset:
            return Balance(asset=asset, wallet_balance=_dec(row["balance"]), unrealized_pnl=_dec(row.get("crossUnPnl")))
    return Balance(asset=asset, wallet_balance=ZERO, unrealized_pnl=ZERO)
