"""Parsers of the Binance stream events the service never reads, for checking the shared payload samples and the
real stream captures: TRADE_LITE on the user-data stream; trades, depth, depth snapshots, liquidations and
tickers on the market streams; and capture lines. (Book tickers are production's now: the feed reads spreads.)

`parse_user_event` and `parse_market_event` are production's (`exchange.binance.user_events` and
`market_events`) with these kinds added: anything production reads goes through production's own code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from exchange.binance import market_events, user_events
from exchange.binance.market_events import MarketEvent
from exchange.binance.payloads import blank_as_zero, unwrap
from exchange.binance.user_events import UserEvent

# --- user-data stream ---------------------------------------------------------------------------------------------


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


def parse_user_event(message: dict[str, Any]) -> UserEvent | TradeLite:
    data = unwrap(message)
    kind = str(data.get("e", ""))
    if kind == "TRADE_LITE":
        return TradeLite(
            event_time=int(data["E"]),
            symbol=data["s"],
            client_order_id=data["c"],
            order_id=int(data["i"]),
            side=data["S"],
            last_qty=blank_as_zero(data["l"]),
            last_price=blank_as_zero(data["L"]),
            trade_id=int(data["t"]),
        )
    return user_events.parse_user_event(message)


# --- market streams -----------------------------------------------------------------------------------------------


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


SampleMarketEvent = MarketEvent | TradeEvent | DepthUpdateEvent | DepthSnapshot | LiquidationEvent | TickerEvent


def _levels(rows: Any) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple((blank_as_zero(price), blank_as_zero(qty)) for price, qty in rows)


def parse_market_event(message: dict[str, Any]) -> SampleMarketEvent:
    d = unwrap(message)
    kind = str(d.get("e", ""))
    if kind in ("trade", "aggTrade"):
        return TradeEvent(
            event_time=int(d["E"]),
            symbol=d["s"],
            trade_id=int(d["a"] if kind == "aggTrade" else d["t"]),
            price=blank_as_zero(d["p"]),
            quantity=blank_as_zero(d["q"]),
            trade_time=int(d["T"]),
            buyer_is_maker=bool(d["m"]),
            aggregate=kind == "aggTrade",
        )
    if kind == "depthUpdate":
        return DepthUpdateEvent(
            event_time=int(d["E"]),
            symbol=d["s"],
            first_update_id=int(d["U"]),
            final_update_id=int(d["u"]),
            previous_final_update_id=int(d.get("pu", 0)),
            bids=_levels(d["b"]),
            asks=_levels(d["a"]),
        )
    if kind == "forceOrder":
        o = d["o"]
        return LiquidationEvent(
            event_time=int(d["E"]),
            symbol=o["s"],
            side=o["S"],
            quantity=blank_as_zero(o["q"]),
            price=blank_as_zero(o["p"]),
            avg_price=blank_as_zero(o.get("ap")),
            status=o.get("X", ""),
        )
    if kind == "24hrTicker":
        return TickerEvent(
            event_time=int(d["E"]),
            symbol=d["s"],
            last_price=blank_as_zero(d["c"]),
            open_price=blank_as_zero(d["o"]),
            high_price=blank_as_zero(d["h"]),
            low_price=blank_as_zero(d["l"]),
            volume=blank_as_zero(d["v"]),
        )
    if not kind and "lastUpdateId" in d:
        return DepthSnapshot(last_update_id=int(d["lastUpdateId"]), bids=_levels(d["bids"]), asks=_levels(d["asks"]))
    return market_events.parse_market_event(message)


def parse_capture_line(line: str) -> tuple[int | None, dict[str, Any]]:
    """A line of a stream capture: `<local_ns> <json>`, or bare JSON."""
    line = line.strip()
    if line.startswith("{"):
        return None, json.loads(line)
    stamp, _, payload = line.partition(" ")
    return int(stamp), json.loads(payload)
