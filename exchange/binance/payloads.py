"""Pure reading of Binance USD-M payloads into the port's types: REST answers here, stream messages in
`user_events` and `market_events`, and the readers they share. No I/O, no pykka, no SQLAlchemy, no python-binance.

Prices and quantities are `Decimal`. Binance writes null, "" or leaves a key out
(old payload versions) for "nothing": `blank_as_zero` reads all three as zero.
A field of the wrong type (a list for a symbol, "false" for a boolean, "NaN"
for a price) raises, so that a stream reader counts and skips the frame
(`websocket.FRAME_ERRORS`) instead of passing it on.

A conditional order is known to the port by the client id we gave it
(`clientAlgoId`); when it triggers, Binance places a regular order with another
id. Its fills are reported under the conditional order's client id, so callers
see one order from placement to fill.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from exchange.market import SymbolFilters
from exchange.port import Balance, ExchangePosition, Fill, OrderSide, OrderState, OrderStatus, OrderType

ZERO = Decimal(0)
REGULAR_STATUS = {
    "NEW": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}
# Live algo states: the port sees the order as resting until the trigger's outcome is known.
_ALGO_LIVE = ("NEW", "TRIGGERING", "TRIGGERED")
_PORT_TYPES = {t.value: t for t in OrderType}


def blank_as_zero(value: Any) -> Decimal:
    """A Binance number; null, "" (and an absent key, read as None) are zero. Anything else that is not a finite
    number raises (InvalidOperation, ValueError): a stream reader counts and skips the frame."""
    if value is None or value == "":
        return ZERO
    if isinstance(value, (bool, dict, list)):
        raise TypeError(f"a number expected, got {type(value).__name__}")
    number = Decimal(str(value))
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number


def flag(value: Any) -> bool:
    """A Binance boolean field; anything but true or false raises TypeError ("false" would read as True)."""
    if not isinstance(value, bool):
        raise TypeError(f"a boolean expected, got {type(value).__name__}")
    return value


def text(value: Any) -> str:
    """A Binance string field (a symbol, a client id, a status): anything but a string raises TypeError."""
    if not isinstance(value, str):
        raise TypeError(f"a string expected, got {type(value).__name__}")
    return value


def zero_as_none(value: Any) -> Decimal | None:
    """A Binance number where zero (or blank) means "not set", e.g. a stop price."""
    dec = blank_as_zero(value)
    return dec if dec != 0 else None


def unwrap(message: dict[str, Any]) -> dict[str, Any]:
    """The payload of a combined-stream message (`{"stream", "data"}`), or the message itself."""
    data = message.get("data")
    if "stream" in message and isinstance(data, dict):
        return data
    return message


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent:
    event_type: str
    data: dict[str, Any]


# --- REST answers and stream updates, as the port's types ----------------------------------------------------------


def filters_from_exchange_info(info: dict[str, Any]) -> dict[str, SymbolFilters]:
    """PRICE_FILTER, LOT_SIZE and MIN_NOTIONAL of every symbol in exchangeInfo."""
    result: dict[str, SymbolFilters] = {}
    for symbol in info.get("symbols", ()):
        f = {x["filterType"]: x for x in symbol.get("filters", ())}
        if "PRICE_FILTER" not in f or "LOT_SIZE" not in f:
            continue
        min_notional = f.get("MIN_NOTIONAL", {})
        result[symbol["symbol"]] = SymbolFilters(
            tick_size=Decimal(f["PRICE_FILTER"]["tickSize"]),
            step_size=Decimal(f["LOT_SIZE"]["stepSize"]),
            min_qty=Decimal(f["LOT_SIZE"]["minQty"]),
            min_notional=Decimal(min_notional.get("notional", min_notional.get("minNotional", "0"))),
        )
    return result


def order_type(binance_type: str) -> OrderType | None:
    return _PORT_TYPES.get(binance_type)


def order_from_rest(d: dict[str, Any]) -> OrderState | None:
    """GET/POST/DELETE /fapi/v1/order; None for order types the port does not use (LIMIT, ...)."""
    kind = order_type(d.get("origType") or d["type"]) or order_type(d["type"])
    status = REGULAR_STATUS.get(d["status"])
    if kind is None or status is None:
        return None
    executed = blank_as_zero(d.get("executedQty"))
    return OrderState(
        client_order_id=d["clientOrderId"],
        exchange_order_id=int(d["orderId"]),
        symbol=d["symbol"],
        side=OrderSide(d["side"]),
        type=kind,
        quantity=blank_as_zero(d["origQty"]),
        trigger_price=blank_as_zero(d.get("stopPrice")) or None,
        reduce_only=bool(d.get("reduceOnly", False)),
        status=status,
        filled_qty=executed,
        avg_price=blank_as_zero(d.get("avgPrice")) if executed else None,
        updated_at=int(d.get("updateTime") or d.get("time") or 0),
    )


def algo_from_rest(d: dict[str, Any], actual: dict[str, Any] | None, *, canceled_by_us: bool) -> OrderState | None:
    """An algo order (GET /fapi/v1/algoOrder) and, once finished, the regular order it became."""
    kind = order_type(d.get("orderType") or d.get("type") or "")
    if kind is None:
        return None
    filled = blank_as_zero(actual.get("executedQty")) if actual else ZERO
    avg = blank_as_zero(actual.get("avgPrice")) if actual else ZERO
    status = algo_status(d["algoStatus"], filled, canceled_by_us)
    return OrderState(
        client_order_id=d["clientAlgoId"],
        exchange_order_id=int(d["algoId"]),
        symbol=d["symbol"],
        side=OrderSide(d["side"]),
        type=kind,
        quantity=blank_as_zero(d["quantity"]),
        trigger_price=blank_as_zero(d["triggerPrice"]),
        reduce_only=bool(d.get("reduceOnly", False)),
        status=status,
        filled_qty=filled,
        avg_price=avg if filled else None,
        updated_at=int(d.get("updateTime") or d.get("createTime") or 0),
    )


def algo_status(status: str, filled: Decimal, canceled_by_us: bool) -> OrderStatus:
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


def fill_from_rest_trade(t: dict[str, Any], client_order_id: str) -> Fill:
    """A row of GET /fapi/v1/userTrades."""
    return Fill(
        client_order_id=client_order_id,
        symbol=t["symbol"],
        side=OrderSide(t["side"]),
        quantity=blank_as_zero(t["qty"]),
        price=blank_as_zero(t["price"]),
        fee=blank_as_zero(t["commission"]),
        realized_pnl=blank_as_zero(t["realizedPnl"]),
        at=int(t["time"]),
        trade_id=int(t["id"]),
        fee_asset=t.get("commissionAsset", "USDT"),
    )


def position_from_rest(d: dict[str, Any]) -> ExchangePosition | None:
    """A row of GET /fapi/v3/positionRisk; None when flat."""
    quantity = blank_as_zero(d["positionAmt"])
    if quantity == 0:
        return None
    mark = blank_as_zero(d.get("markPrice"))
    return ExchangePosition(
        symbol=d["symbol"],
        quantity=quantity,
        entry_price=blank_as_zero(d["entryPrice"]),
        unrealized_pnl=blank_as_zero(d.get("unRealizedProfit")),
        mark_price=mark or None,
    )


def balance_from_rest(rows: list[dict[str, Any]], asset: str = "USDT") -> Balance:
    """GET /fapi/v3/balance: `balance` is the wallet balance, `crossUnPnl` the unrealized PnL."""
    for row in rows:
        if row.get("asset") == asset:
            return Balance(
                asset=asset,
                wallet_balance=blank_as_zero(row["balance"]),
                unrealized_pnl=blank_as_zero(row.get("crossUnPnl")),
            )
    return Balance(asset=asset, wallet_balance=ZERO, unrealized_pnl=ZERO)
