"""Pure reading of Binance USD-M payloads (REST answers and stream messages) into frozen dataclasses and the port's
types. No I/O, no pykka, no SQLAlchemy, no python-binance.

Stream parsers take one decoded JSON message (bare, or wrapped as `{"stream": ...,
"data": ...}` by a combined stream). They read only what the service subscribes
to: order, algo and account updates and the listen key's expiry on the user-data stream,
klines and mark prices on the market stream. Anything else comes back as
`UnknownEvent` rather than raising: Binance adds events (TRADE_LITE,
STRATEGY_UPDATE, ...) without notice and a stream reader must not die on one.
A known event with a field missing, of the wrong type or not a number raises
(KeyError, TypeError, ValueError, InvalidOperation): the stream counts the frame
and skips it (`websocket.FRAME_ERRORS`).

Prices and quantities are `Decimal`. Binance writes null, "" or leaves a key out
(old payload versions) for "nothing": `blank_as_zero` reads all three as zero.

A conditional order is known to the port by the client id we gave it
(`clientAlgoId`); when it triggers, Binance places a regular order with another
id. Its fills are reported under the conditional order's client id, so callers
see one order from placement to fill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from exchange.market import Candle, SymbolFilters
from exchange.port import Balance, ExchangePosition, Fill, OrderSide, OrderState, OrderStatus, OrderType

ZERO = Decimal(0)
INTERVAL_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}
_REGULAR_STATUS = {
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


# --- the user-data stream ------------------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent:
    event_type: str
    data: dict[str, Any]


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


# --- the market stream ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class KlineEvent:
    event_time: int
    symbol: str
    interval: str
    open_time: int
    close_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    closed: bool

    def candle(self) -> Candle:
        """The message the market-data actor uses; only meaningful once `closed`."""
        return Candle(
            symbol=self.symbol,
            open_time=self.open_time,
            open=float(self.open),
            high=float(self.high),
            low=float(self.low),
            close=float(self.close),
            volume=float(self.volume),
            interval_ms=INTERVAL_MS.get(self.interval, self.close_time + 1 - self.open_time),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkPriceEvent:
    event_time: int
    symbol: str
    mark_price: Decimal
    index_price: Decimal
    funding_rate: Decimal
    next_funding_time: int


MarketEvent = KlineEvent | MarkPriceEvent | UnknownEvent


def parse_market_event(message: dict[str, Any]) -> MarketEvent:
    d = unwrap(message)
    kind = str(d.get("e", ""))
    if kind == "kline":
        k = d["k"]
        return KlineEvent(
            event_time=int(d["E"]),
            symbol=text(k.get("s", d.get("s", ""))),
            interval=text(k["i"]),
            open_time=int(k["t"]),
            close_time=int(k["T"]),
            open=blank_as_zero(k["o"]),
            high=blank_as_zero(k["h"]),
            low=blank_as_zero(k["l"]),
            close=blank_as_zero(k["c"]),
            volume=blank_as_zero(k["v"]),
            closed=flag(k["x"]),
        )
    if kind == "markPriceUpdate":
        return MarkPriceEvent(
            event_time=int(d["E"]),
            symbol=text(d["s"]),
            mark_price=blank_as_zero(d["p"]),
            index_price=blank_as_zero(d.get("i")),
            funding_rate=blank_as_zero(d.get("r")),
            next_funding_time=int(d.get("T") or 0),
        )
    return UnknownEvent(event_type=kind, data=d)


def kline_from_rest(symbol: str, interval: str, row: Sequence[Any]) -> KlineEvent:
    """A `/fapi/v1/klines` row: [open time, open, high, low, close, volume, close time, ...]."""
    return KlineEvent(
        event_time=int(row[6]) + 1,
        symbol=symbol,
        interval=interval,
        open_time=int(row[0]),
        close_time=int(row[6]),
        open=Decimal(str(row[1])),
        high=Decimal(str(row[2])),
        low=Decimal(str(row[3])),
        close=Decimal(str(row[4])),
        volume=Decimal(str(row[5])),
        closed=True,
    )


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
    status = _REGULAR_STATUS.get(d["status"])
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
    status = _algo_status(d["algoStatus"], filled, canceled_by_us)
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
        status=_algo_status(u.status, u.filled_qty, canceled_by_us),
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
