"""Pure parsers of Binance USD-M WebSocket payloads: user-data and market streams.

`parse_user_event` and `parse_market_event` take one decoded JSON message (bare,
or wrapped as `{"stream": ..., "data": ...}` by a combined stream) and return a
frozen dataclass. Unknown event types come back as `UnknownEvent` rather than
raising: Binance adds events (TRADE_LITE, STRATEGY_UPDATE, ...) without notice and
a stream reader must not die on one. Prices and quantities are `Decimal`; fields
Binance sends as null or leaves out (old payload versions) get neutral defaults.

No I/O, no pykka, no SQLAlchemy, no python-binance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from exchange.market import Candle

ZERO = Decimal(0)
INTERVAL_MS = {
    "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000,
    "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000, "12h": 43_200_000,
    "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000,
}


def _dec(value: Any) -> Decimal:
    """Binance writes null, "" or an absent key for "nothing"; all read as zero."""
    if value is None or value == "":
        return ZERO
    return Decimal(str(value))


def _opt_dec(value: Any) -> Decimal | None:
    dec = _dec(value)
    return dec if dec != 0 else None


def unwrap(message: dict[str, Any]) -> dict[str, Any]:
    """The payload of a combined-stream message (`{"stream", "data"}`), or the message itself."""
    data = message.get("data")
    if "stream" in message and isinstance(data, dict):
        return data
    return message


def parse_capture_line(line: str) -> tuple[int | None, dict[str, Any]]:
    """A line of a stream capture: `<local_ns> <json>`, or bare JSON."""
    line = line.strip()
    if line.startswith("{"):
        return None, json.loads(line)
    stamp, _, payload = line.partition(" ")
    return int(stamp), json.loads(payload)


# --- user-data stream -------------------------------------------------------------------------------


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
    quantity: Decimal
    entry_price: Decimal
    accumulated_realized: Decimal
    unrealized_pnl: Decimal
    margin_type: str
    position_side: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountUpdate:
    event_time: int
    transaction_time: int
    reason: str  # ORDER, FUNDING_FEE, DEPOSIT, ...
    balances: tuple[BalanceChange, ...]
    positions: tuple[PositionChange, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeLite:
    event_time: int
    symbol: str
    client_order_id: str
    order_id: int
    side: str
    last_qty: Decimal
    last_price: Decimal
    trade_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenKeyExpired:
    event_time: int
    listen_key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent:
    event_type: str
    data: dict[str, Any]


UserEvent = OrderTradeUpdate | AlgoUpdate | AccountUpdate | TradeLite | ListenKeyExpired | UnknownEvent


def parse_user_event(message: dict[str, Any]) -> UserEvent:
    data = unwrap(message)
    kind = str(data.get("e", ""))
    if kind == "ORDER_TRADE_UPDATE":
        return _order_trade_update(data)
    if kind == "ALGO_UPDATE":
        return _algo_update(data)
    if kind == "ACCOUNT_UPDATE":
        return _account_update(data)
    if kind == "TRADE_LITE":
        return TradeLite(
            event_time=int(data["E"]), symbol=data["s"], client_order_id=data["c"], order_id=int(data["i"]),
            side=data["S"], last_qty=_dec(data["l"]), last_price=_dec(data["L"]), trade_id=int(data["t"]),
        )
    if kind == "listenKeyExpired":
        return ListenKeyExpired(event_time=int(data["E"]), listen_key=str(data.get("listenKey", "")))
    return UnknownEvent(event_type=kind, data=data)


def _order_trade_update(data: dict[str, Any]) -> OrderTradeUpdate:
    o = data["o"]
    return OrderTradeUpdate(
        event_time=int(data["E"]), transaction_time=int(data.get("T", data["E"])), symbol=o["s"],
        client_order_id=o["c"], order_id=int(o["i"]), side=o["S"], order_type=o["o"],
        original_type=o.get("ot") or o["o"], execution_type=o["x"], status=o["X"], quantity=_dec(o["q"]),
        price=_dec(o.get("p")), avg_price=_dec(o.get("ap")), stop_price=_opt_dec(o.get("sp")),
        last_qty=_dec(o.get("l")), cum_qty=_dec(o.get("z")), last_price=_dec(o.get("L")), fee=_dec(o.get("n")),
        fee_asset=o.get("N"), trade_id=int(o.get("t") or 0), reduce_only=bool(o.get("R", False)),
        position_side=o.get("ps", "BOTH"), realized_pnl=_dec(o.get("rp")),
    )


def _algo_update(data: dict[str, Any]) -> AlgoUpdate:
    o = data["o"]
    actual = o.get("ai") or ""
    return AlgoUpdate(
        event_time=int(data["E"]), transaction_time=int(data.get("T", data["E"])), symbol=o["s"],
        client_algo_id=o["caid"], algo_id=int(o["aid"]), order_type=o["o"], side=o["S"], quantity=_dec(o["q"]),
        status=o["X"], trigger_price=_dec(o.get("tp")), actual_order_id=int(actual) if actual else None,
        avg_price=_dec(o.get("ap")), filled_qty=_dec(o.get("aq")), reduce_only=bool(o.get("R", False)),
        reason=str(o.get("rm") or ""),
    )


def _account_update(data: dict[str, Any]) -> AccountUpdate:
    a = data["a"]
    return AccountUpdate(
        event_time=int(data["E"]), transaction_time=int(data.get("T", data["E"])), reason=a.get("m", ""),
        balances=tuple(
            BalanceChange(asset=b["a"], wallet_balance=_dec(b["wb"]), cross_wallet_balance=_dec(b.get("cw")),
                          balance_change=_dec(b.get("bc")))
            for b in a.get("B", ())
        ),
        positions=tuple(
            PositionChange(symbol=p["s"], quantity=_dec(p["pa"]), entry_price=_dec(p["ep"]),
                           accumulated_realized=_dec(p.get("cr")), unrealized_pnl=_dec(p.get("up")),
                           margin_type=p.get("mt", ""), position_side=p.get("ps", "BOTH"))
            for p in a.get("P", ())
        ),
    )


# --- market streams ----------------------------------------------------------------------------------


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
            symbol=self.symbol, open_time=self.open_time, open=float(self.open), high=float(self.high),
            low=float(self.low), close=float(self.close), volume=float(self.volume),
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


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeEvent:
    """`trade` and `aggTrade` (an aggregate trade's id is `a`)."""

    event_time: int
    symbol: str
    trade_id: int
    price: Decimal
    quantity: Decimal
    trade_time: int
    buyer_is_maker: bool
    aggregate: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BookTickerEvent:
    event_time: int
    symbol: str
    update_id: int
    bid_price: Decimal
    bid_qty: Decimal
    ask_price: Decimal
    ask_qty: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class DepthUpdateEvent:
    event_time: int
    symbol: str
    first_update_id: int
    final_update_id: int
    previous_final_update_id: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DepthSnapshot:
    """The REST depth snapshot that starts a local order book (found in stream captures)."""

    last_update_id: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidationEvent:
    """`forceOrder`: someone's position was liquidated (market-wide, not ours)."""

    event_time: int
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    avg_price: Decimal
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TickerEvent:
    event_time: int
    symbol: str
    last_price: Decimal
    open_price: Decimal
    high_price: Decimal
    low_price: Decimal
    volume: Decimal


MarketEvent = (KlineEvent | MarkPriceEvent | TradeEvent | BookTickerEvent | DepthUpdateEvent | DepthSnapshot
               | LiquidationEvent | TickerEvent | UnknownEvent)


def _levels(rows: Any) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple((_dec(price), _dec(qty)) for price, qty in rows)


def parse_market_event(message: dict[str, Any]) -> MarketEvent:
    d = unwrap(message)
    kind = str(d.get("e", ""))
    if kind == "kline":
        k = d["k"]
        return KlineEvent(
            event_time=int(d["E"]), symbol=k.get("s", d.get("s", "")), interval=k["i"], open_time=int(k["t"]),
            close_time=int(k["T"]), open=_dec(k["o"]), high=_dec(k["h"]), low=_dec(k["l"]), close=_dec(k["c"]),
            volume=_dec(k["v"]), closed=bool(k["x"]),
        )
    if kind == "markPriceUpdate":
        return MarkPriceEvent(
            event_time=int(d["E"]), symbol=d["s"], mark_price=_dec(d["p"]), index_price=_dec(d.get("i")),
            funding_rate=_dec(d.get("r")), next_funding_time=int(d.get("T") or 0),
        )
    if kind in ("trade", "aggTrade"):
        return TradeEvent(
            event_time=int(d["E"]), symbol=d["s"], trade_id=int(d["a"] if kind == "aggTrade" else d["t"]),
            price=_dec(d["p"]), quantity=_dec(d["q"]), trade_time=int(d["T"]), buyer_is_maker=bool(d["m"]),
            aggregate=kind == "aggTrade",
        )
    if kind == "bookTicker":
        return BookTickerEvent(
            event_time=int(d.get("E") or d.get("T") or 0), symbol=d["s"], update_id=int(d["u"]),
            bid_price=_dec(d["b"]), bid_qty=_dec(d["B"]), ask_price=_dec(d["a"]), ask_qty=_dec(d["A"]),
        )
    if kind == "depthUpdate":
        return DepthUpdateEvent(
            event_time=int(d["E"]), symbol=d["s"], first_update_id=int(d["U"]), final_update_id=int(d["u"]),
            previous_final_update_id=int(d.get("pu", 0)), bids=_levels(d["b"]), asks=_levels(d["a"]),
        )
    if kind == "forceOrder":
        o = d["o"]
        return LiquidationEvent(
            event_time=int(d["E"]), symbol=o["s"], side=o["S"], quantity=_dec(o["q"]), price=_dec(o["p"]),
            avg_price=_dec(o.get("ap")), status=o.get("X", ""),
        )
    if kind == "24hrTicker":
        return TickerEvent(
            event_time=int(d["E"]), symbol=d["s"], last_price=_dec(d["c"]), open_price=_dec(d["o"]),
            high_price=_dec(d["h"]), low_price=_dec(d["l"]), volume=_dec(d["v"]),
        )
    if not kind and "lastUpdateId" in d:
        return DepthSnapshot(last_update_id=int(d["lastUpdateId"]), bids=_levels(d["bids"]), asks=_levels(d["asks"]))
    return UnknownEvent(event_type=kind, data=d)
