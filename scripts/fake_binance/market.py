"""The price path of the fake exchange: prices, candles, mark prices and book tickers set by the test, and what
they trigger.

A mixin of `Engine` (it uses the engine's books and `_trigger`, declared below for
the type checker); kept apart so each module stays readable. The rule that matters: when one move could trigger
both a stop and a take-profit, the stop fills first (the worse outcome, as the
paper exchange assumes).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from scripts.fake_binance import shapes
from scripts.fake_binance.errors import ApiError
from scripts.fake_binance.shapes import ZERO, AlgoOrder, Order

INTERVAL_MS = {"1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "4h": 14_400_000}


class PricePath:
    if TYPE_CHECKING:  # what it uses of the Engine it is mixed into
        prices: dict[str, Decimal]
        positions: dict[str, tuple[Decimal, Decimal]]
        algos: dict[int, AlgoOrder]
        candles: dict[tuple[str, str], list[list[Any]]]
        user_events: list[dict[str, Any]]
        market_events: list[tuple[str, dict[str, Any]]]
        _ids: itertools.count[int]

        def now(self) -> int: ...
        def _symbol(self, params: dict[str, str]) -> str: ...
        def _price(self, symbol: str) -> Decimal: ...
        def _trigger(self, algo: AlgoOrder, price: Decimal) -> None: ...
        def _execute_market(self, order: Order, price: Decimal, exec_type: str = "TRADE") -> None: ...
        def _create_order(
            self,
            symbol: str,
            cid: str,
            side: str,
            type_: str,
            orig_type: str,
            qty: Decimal,
            reduce_only: bool,
            stop_price: Decimal | None,
        ) -> Order: ...

    def set_price(self, symbol: str, price: Decimal) -> None:
        """A trade at `price`: resting conditional orders through it fill at it (a gap fills at the gap)."""
        self.prices[symbol] = price
        self._emit_mark(symbol)
        self._trigger_all(symbol, [(a, price) for a in self._triggered_by(symbol, price)])

    def push_candle(
        self, symbol: str, interval: str, open_time: int, o: Decimal, h: Decimal, low: Decimal, c: Decimal, v: Decimal
    ) -> None:
        """A closed candle: triggers at the open fill at the open; inside it, at their trigger price."""
        self.prices[symbol] = o
        at_open = [(a, o) for a in self._triggered_by(symbol, o)]
        self._trigger_all(symbol, at_open)
        inside = {a.algo_id: a for a in self._triggered_by(symbol, low) + self._triggered_by(symbol, h)}.values()
        self._trigger_all(symbol, [(a, a.trigger_price) for a in inside])
        self.prices[symbol] = c
        close_time = open_time + INTERVAL_MS[interval] - 1
        self.candles.setdefault((symbol, interval), []).append(shapes.kline_row(open_time, close_time, o, h, low, c, v))
        stream = f"{symbol.lower()}@kline_{interval}"
        self.market_events.append(
            (
                stream,
                shapes.kline_event(
                    symbol=symbol,
                    interval=interval,
                    open_time=open_time,
                    close_time=close_time,
                    o=o,
                    h=h,
                    low=low,
                    c=c,
                    v=v,
                    closed=True,
                    at=close_time + 1,
                ),
            )
        )
        self._emit_mark(symbol)

    def set_book(self, symbol: str, bid: Decimal, ask: Decimal, bid_qty: Decimal, ask_qty: Decimal) -> None:
        """A change of the best bid and ask: a `<symbol>@bookTicker` event. It moves no price and fills nothing (the
        fake matches at its last price)."""
        self.market_events.append(
            (
                f"{symbol.lower()}@bookTicker",
                shapes.book_ticker_event(
                    symbol=symbol,
                    bid=bid,
                    bid_qty=bid_qty,
                    ask=ask,
                    ask_qty=ask_qty,
                    update_id=next(self._ids),
                    at=self.now(),
                ),
            )
        )

    def _triggered_by(self, symbol: str, price: Decimal) -> list[AlgoOrder]:
        return [a for a in self.algos.values() if a.symbol == symbol and a.status == "NEW" and triggered(a, price)]

    def _trigger_all(self, symbol: str, pending: Iterable[tuple[AlgoOrder, Decimal]]) -> None:
        ranked = sorted(pending, key=lambda p: (p[0].order_type != "STOP_MARKET", p[0].algo_id))
        for algo, price in ranked:
            if algo.status == "NEW":  # an earlier fill may have expired it
                self._trigger(algo, price)

    def _emit_mark(self, symbol: str) -> None:
        now = self.now()
        self.market_events.append(
            (
                f"{symbol.lower()}@markPrice",
                shapes.mark_price_event(
                    symbol=symbol, mark=self.prices[symbol], at=now, next_funding=_next_funding(now)
                ),
            )
        )

    def premium(self, params: dict[str, str]) -> dict[str, Any] | list[dict[str, Any]]:
        now = self.now()
        rows = {
            s: shapes.premium_index(symbol=s, mark=p, at=now, next_funding=_next_funding(now))
            for s, p in self.prices.items()
        }
        if "symbol" in params:
            symbol = self._symbol(params)
            if symbol not in rows:
                raise ApiError(503, -1001, "Internal error; unable to process your request. Please try again.")
            return rows[symbol]
        return list(rows.values())

    def klines(self, params: dict[str, str]) -> list[list[Any]]:
        symbol = self._symbol(params)
        rows = self.candles.get((symbol, params.get("interval", "1m")), [])
        start, end = int(params.get("startTime", 0)), int(params.get("endTime", 2**62))
        rows = [r for r in rows if start <= r[0] <= end]
        return rows[-int(params.get("limit", 500)) :]

    # --- events outside the service -------------------------------------------------------------

    def close_outside(self, symbol: str, kind: str, quantity: Decimal | None = None) -> None:
        """Close the position (or `quantity` of it) as Binance does by itself, or as a person on the website:
        `kind` "liquidation" (an `autoclose-` order, one CALCULATED fill), "adl" (`adl_autoclose`, one CALCULATED
        fill) or "web" (a `web_` market order: NEW, then its trades). Each fill is followed by an ACCOUNT_UPDATE
        with the new position amount, at the same transaction time."""
        qty, _ = self.positions.get(symbol, (ZERO, ZERO))
        if qty == 0:
            raise ValueError(f"no position on {symbol}")
        amount = abs(qty) if quantity is None else min(abs(qty), Decimal(quantity))
        side = "SELL" if qty > 0 else "BUY"
        cid = {"liquidation": f"autoclose-{next(self._ids)}", "adl": "adl_autoclose", "web": f"web_{next(self._ids)}"}
        order = self._create_order(symbol, cid[kind], side, "MARKET", "MARKET", amount, True, None)
        if kind == "web":
            self._execute_market(order, self._price(symbol))
            return
        self.user_events.pop()  # the engine's own closes arrive as a single CALCULATED fill, no NEW
        self._execute_market(order, self._price(symbol), "CALCULATED")


def triggered(algo: AlgoOrder, price: Decimal) -> bool:
    rises = (algo.order_type == "STOP_MARKET") == (algo.side == "BUY")
    return price >= algo.trigger_price if rises else price <= algo.trigger_price


def _next_funding(now: int) -> int:
    period = 8 * 3_600_000
    return (now // period + 1) * period
