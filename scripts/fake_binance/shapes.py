"""Binance USD-M payloads, built in the exact shapes of the samples in ../shared/data/binance.

Every builder here returns a plain dict; `test_fake_binance_shapes.py` compares
each one, key by key and type by type, with the sample it imitates. Keys are
listed in the samples' order so a diff of the JSON reads naturally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)


def fmt(value: Decimal | None, places: int | None = None) -> str:
    """Binance sends numbers as strings without exponent; `places` pads like its fixed-scale fields."""
    if value is None:
        return "0"
    if places is not None:
        return f"{value:.{places}f}"
    text = format(value.normalize(), "f")
    return text


@dataclass(slots=True)
class Order:
    """A regular (matching-engine) order."""

    order_id: int
    client_id: str
    symbol: str
    side: str
    type: str
    orig_type: str
    quantity: Decimal
    reduce_only: bool
    time: int
    status: str = "NEW"
    executed: Decimal = ZERO
    cum_quote: Decimal = ZERO
    stop_price: Decimal | None = None
    update_time: int = 0

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed if self.executed else ZERO


@dataclass(slots=True)
class AlgoOrder:
    """A conditional order held by Binance's Algo Service until it triggers."""

    algo_id: int
    client_algo_id: str
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    trigger_price: Decimal
    reduce_only: bool
    working_type: str
    create_time: int
    status: str = "NEW"
    actual_order_id: int | None = None
    update_time: int = 0
    trigger_time: int = 0
    fills: list[tuple[Decimal, Decimal]] = field(default_factory=list)  # (qty, price) of the actual order


def order_rest(order: Order, *, with_cum_qty: bool = False) -> dict[str, Any]:
    """GET/POST/DELETE /fapi/v1/order (rest/order_response.json)."""
    body: dict[str, Any] = {
        "orderId": order.order_id,
        "symbol": order.symbol,
        "status": order.status,
        "clientOrderId": order.client_id,
        "price": "0.00",
        "avgPrice": fmt(order.avg_price, 2),
        "origQty": fmt(order.quantity, 3),
        "executedQty": fmt(order.executed, 3),
    }
    if with_cum_qty:  # POST and DELETE responses carry cumQty too
        body["cumQty"] = fmt(order.executed, 3)
    body.update(
        {
            "cumQuote": fmt(order.cum_quote, 5),
            "timeInForce": "GTC",
            "type": order.type,
            "reduceOnly": order.reduce_only,
            "closePosition": False,
            "side": order.side,
            "positionSide": "BOTH",
            "stopPrice": fmt(order.stop_price or ZERO, 2),
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": order.orig_type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "NONE",
            "goodTillDate": 0,
            "time": order.time,
            "updateTime": order.update_time or order.time,
        }
    )
    return body


def algo_rest(algo: AlgoOrder) -> dict[str, Any]:
    """POST/GET /fapi/v1/algoOrder and /fapi/v1/openAlgoOrders rows (rest/open_algo_orders.json).

    The sample names the order type `type`; Binance's documentation calls it
    `orderType`. Both are sent so a client written against either one works.
    """
    return {
        "algoId": algo.algo_id,
        "clientAlgoId": algo.client_algo_id,
        "algoType": "CONDITIONAL",
        "type": algo.order_type,
        "orderType": algo.order_type,
        "symbol": algo.symbol,
        "side": algo.side,
        "positionSide": "BOTH",
        "timeInForce": "GTC",
        "quantity": fmt(algo.quantity),
        "algoStatus": algo.status,
        "triggerPrice": fmt(algo.trigger_price),
        "price": "0",
        "workingType": algo.working_type,
        "reduceOnly": algo.reduce_only,
        "closePosition": False,
        "priceProtect": False,
        "actualOrderId": "" if algo.actual_order_id is None else str(algo.actual_order_id),
        "actualPrice": fmt(_avg(algo.fills), 5),
        "createTime": algo.create_time,
        "updateTime": algo.update_time or algo.create_time,
        "triggerTime": algo.trigger_time,
        "goodTillDate": 0,
    }


def _avg(fills: list[tuple[Decimal, Decimal]]) -> Decimal:
    qty = sum((q for q, _ in fills), ZERO)
    return sum((q * p for q, p in fills), ZERO) / qty if qty else ZERO


def order_trade_update(
    order: Order,
    *,
    exec_type: str,
    at: int,
    last_qty: Decimal = ZERO,
    last_price: Decimal = ZERO,
    fee: Decimal | None = None,
    fee_asset: str = "USDT",
    trade_id: int = 0,
    realized: Decimal = ZERO,
) -> dict[str, Any]:
    """ORDER_TRADE_UPDATE in the current shape (user_stream/futures_order_update_*.json, unwrapped)."""
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": at,
        "T": at,
        "o": {
            "s": order.symbol,
            "c": order.client_id,
            "S": order.side,
            "o": order.type,
            "f": "GTC",
            "q": fmt(order.quantity, 3),
            "p": "0",
            "ap": fmt(order.avg_price, 2),
            "sp": None if order.stop_price is None else fmt(order.stop_price, 2),
            "x": exec_type,
            "X": order.status,
            "i": order.order_id,
            "l": fmt(last_qty, 3),
            "z": fmt(order.executed, 3),
            "L": fmt(last_price, 2),
            "N": None if fee is None else fee_asset,
            "n": None if fee is None else fmt(fee, 8),
            "T": at,
            "t": trade_id,
            "b": "0",
            "a": "0",
            "m": False,
            "R": order.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": order.orig_type,
            "ps": "BOTH",
            "cp": False,
            "AP": None,
            "cr": None,
            "pP": False,
            "si": 0,
            "ss": 0,
            "rp": fmt(realized, 8),
            "gtd": 0,
            "W": None,
            "V": None,
        },
    }


def algo_update(algo: AlgoOrder, *, at: int, reason: str = "") -> dict[str, Any]:
    """ALGO_UPDATE; the key set depends on the status, as in the samples.

    NEW / CANCELED / EXPIRED / REJECTED follow algo_update_new.json (with `rm`),
    TRIGGERING follows futures_algo_update_triggering.json (no fill fields yet),
    TRIGGERED and FINISHED follow futures_algo_update_finished.json.
    """
    o: dict[str, Any] = {
        "caid": algo.client_algo_id,
        "aid": algo.algo_id,
        "at": "CONDITIONAL",
        "o": algo.order_type,
        "s": algo.symbol,
        "S": algo.side,
        "ps": "BOTH",
        "f": "GTC",
        "q": fmt(algo.quantity),
        "X": algo.status,
    }
    actual = "" if algo.actual_order_id is None else str(algo.actual_order_id)
    if algo.status == "TRIGGERING":
        o["ai"] = ""
    else:
        filled = sum((q for q, _ in algo.fills), ZERO)
        o.update(
            {
                "ai": actual,
                "ap": fmt(_avg(algo.fills), 5) if filled else "0",
                "aq": fmt(filled) if filled else "0",
                "act": "MARKET" if actual else "0",
            }
        )
    o.update(
        {
            "tp": fmt(algo.trigger_price),
            "p": "0",
            "V": "EXPIRE_MAKER",
            "wt": algo.working_type,
            "pm": "NONE",
            "cp": False,
            "pP": False,
            "R": algo.reduce_only,
            "tt": algo.trigger_time,
            "gtd": 0,
        }
    )
    if algo.status in ("NEW", "CANCELED", "EXPIRED", "REJECTED"):
        o["rm"] = reason
    return {"e": "ALGO_UPDATE", "T": at, "E": at, "o": o}


def account_update(
    *,
    at: int,
    reason: str,
    wallet: Decimal,
    positions: list[tuple[str, Decimal, Decimal, Decimal, Decimal]],
) -> dict[str, Any]:
    """ACCOUNT_UPDATE (user_stream/account_update.json); positions are (symbol, qty, entry, realized, upnl)."""
    return {
        "e": "ACCOUNT_UPDATE",
        "T": at,
        "E": at,
        "a": {
            "m": reason,
            "B": [{"a": "USDT", "wb": fmt(wallet, 8), "cw": fmt(wallet, 8), "bc": "0"}],
            "P": [
                {
                    "s": s,
                    "pa": fmt(q),
                    "ep": fmt(e, 5),
                    "bep": fmt(e),
                    "cr": fmt(r, 8),
                    "up": fmt(u, 5),
                    "mt": "cross",
                    "iw": "0",
                    "ps": "BOTH",
                }
                for s, q, e, r, u in positions
            ],
        },
    }


def kline_event(
    *,
    symbol: str,
    interval: str,
    open_time: int,
    close_time: int,
    o: Decimal,
    h: Decimal,
    low: Decimal,
    c: Decimal,
    v: Decimal,
    closed: bool,
    at: int,
) -> dict[str, Any]:
    """market_stream/kline_stream_closed.json."""
    return {
        "e": "kline",
        "E": at,
        "s": symbol,
        "k": {
            "t": open_time,
            "T": close_time,
            "s": symbol,
            "i": interval,
            "f": 0,
            "L": 0,
            "o": fmt(o),
            "c": fmt(c),
            "h": fmt(h),
            "l": fmt(low),
            "v": fmt(v),
            "n": 0,
            "x": closed,
            "q": fmt(v * c),
            "V": "0",
            "Q": "0",
            "B": "0",
        },
    }


def mark_price_event(*, symbol: str, mark: Decimal, at: int, next_funding: int) -> dict[str, Any]:
    """market_stream/mark_price_stream.json."""
    return {
        "e": "markPriceUpdate",
        "E": at,
        "s": symbol,
        "p": fmt(mark, 8),
        "i": fmt(mark, 8),
        "P": fmt(mark, 8),
        "r": "0.00010000",
        "T": next_funding,
        "st": 1,
    }


def book_ticker_event(
    *, symbol: str, bid: Decimal, bid_qty: Decimal, ask: Decimal, ask_qty: Decimal, update_id: int, at: int
) -> dict[str, Any]:
    """market_stream/futures_book_ticker.json (and the real capture in ws_capture_excerpts/excerpt_bookTicker)."""
    return {
        "e": "bookTicker",
        "u": update_id,
        "s": symbol,
        "b": fmt(bid),
        "B": fmt(bid_qty),
        "a": fmt(ask),
        "A": fmt(ask_qty),
        "T": at,
        "E": at,
    }


def premium_index(*, symbol: str, mark: Decimal, at: int, next_funding: int) -> dict[str, Any]:
    """rest/futures_market_premium_index.json."""
    return {
        "symbol": symbol,
        "markPrice": fmt(mark, 8),
        "indexPrice": fmt(mark, 8),
        "estimatedSettlePrice": fmt(mark, 8),
        "lastFundingRate": "0.00010000",
        "nextFundingTime": next_funding,
        "interestRate": "0.00010000",
        "time": at,
    }


def kline_row(
    open_time: int,
    close_time: int,
    o: Decimal,
    h: Decimal,
    low: Decimal,
    c: Decimal,
    v: Decimal,
) -> list[Any]:
    """rest/futures_market_klines.json row."""
    return [open_time, fmt(o), fmt(h), fmt(low), fmt(c), fmt(v), close_time, fmt(v * c), 0, "0", "0", "0"]


def error(code: int, msg: str) -> dict[str, Any]:
    return {"code": code, "msg": msg}
