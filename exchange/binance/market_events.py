"""The market streams' messages (klines, mark prices and book tickers) and REST klines, read into frozen
dataclasses. Pure: no I/O. Anything else comes back as `UnknownEvent`; a kline, mark or book ticker with a field
missing or of the wrong type raises, and the stream counts and skips the frame (`websocket.FRAME_ERRORS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from exchange.binance.payloads import UnknownEvent, blank_as_zero, flag, text, unwrap
from exchange.market import Candle

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


@dataclass(frozen=True, slots=True, kw_only=True)
class BookTickerEvent:
    """The best bid and ask of a symbol now (`<symbol>@bookTicker`: sent on every change of either)."""

    event_time: int
    update_id: int
    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal

    @property
    def spread_bps(self) -> float:
        return spread_bps(self.bid, self.ask)


def spread_bps(bid: Decimal, ask: Decimal) -> float:
    """The bid/ask spread in basis points of the mid price."""
    return float((ask - bid) / ((ask + bid) / 2) * 10_000)


MarketEvent = KlineEvent | MarkPriceEvent | BookTickerEvent | UnknownEvent


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
    if kind == "bookTicker":
        return _book_ticker(d)
    return UnknownEvent(event_type=kind, data=d)


def _book_ticker(d: dict[str, Any]) -> BookTickerEvent:
    bid, ask = blank_as_zero(d["b"]), blank_as_zero(d["a"])
    # An empty side (a halted or brand-new market) or a crossed book says nothing of the spread: skipped.
    if bid <= 0 or ask <= 0:
        raise ValueError(f"book ticker without both sides: bid {bid}, ask {ask}")
    if ask < bid:
        raise ValueError(f"crossed book ticker: bid {bid} > ask {ask}")
    return BookTickerEvent(
        event_time=int(d.get("E") or d.get("T") or 0),
        update_id=int(d["u"]),
        symbol=text(d["s"]),
        bid=bid,
        bid_qty=blank_as_zero(d.get("B")),
        ask=ask,
        ask_qty=blank_as_zero(d.get("A")),
    )


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
