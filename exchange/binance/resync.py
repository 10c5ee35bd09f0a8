"""Resynchronisation after a user-data stream gap: what the stream would have said, read through REST.

Binance does not replay a stream: whatever happened while the socket was down
(a stop that filled, a liquidation, a position closed by hand) is only in REST.
So, before the new connection is read:

1. every order we placed and last saw open is looked up by client id (this also
   learns which regular order a triggered conditional order became);
2. every trade of the gap on the symbols we trade is read (`userTrades` with
   `startTime` and `endTime`, paged past `TRADES_PAGE` rows with `fromId`; a gap
   longer than Binance's 7-day window is read a week at a time); trades not yet
   reported become `Fill`s, under our client id when the order is ours and under
   the exchange's (`autoclose-...`, `web_...`) when it is not, so the caller
   sees closes it did not ask for;
3. an order the lookups found (partly) filled with fewer fills reported than its
   filled quantity (its trades fell before the gap: the stream lost them while
   it still looked connected) has all its trades read by order id;
4. each symbol that traded gets a `PositionChanged` with its position now
   (positionRisk), for the ACCOUNT_UPDATEs the stream missed, with the reason of
   the foreign order that traded it (a liquidation, ...) if one did.

The gap runs from the last moment the previous session heard anything to the
opening of the new one, widened by `margin_ms` on both sides for clock error;
trades reported twice are dropped by the translator (symbol, trade id).

Fills are queued before order states, and both before the positions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from exchange.binance.payloads import blank_as_zero, fill_from_rest_trade
from exchange.binance.rest import BinanceRest
from exchange.binance.translator import EventTranslator, outside_reason
from exchange.port import ExchangeEvent, Fill, OrderState, OrderType, PositionChanged, PositionChangeReason

# (symbol, client order id) -> (the order's state or None, the regular order a triggered conditional one became)
Lookup = Callable[[str, str], tuple[OrderState | None, int | None]]
ZERO = Decimal(0)
TRADES_PAGE = 1000  # Binance's largest userTrades page
WEEK_MS = 7 * 24 * 3_600_000  # Binance's longest userTrades window


def trades_between(rest: BinanceRest, symbol: str, start_ms: int, end_ms: int) -> Iterator[dict[str, Any]]:
    """Every trade of `symbol` from `start_ms` to `end_ms` (both included), oldest first."""
    window = start_ms
    while window <= end_ms:
        window_end = min(end_ms, window + WEEK_MS)
        page = rest.user_trades(symbol, startTime=window, endTime=window_end, limit=TRADES_PAGE)
        yield from page
        while len(page) == TRADES_PAGE:
            # fromId cannot go with a time: page on by id and stop at the window's end.
            page = rest.user_trades(symbol, fromId=int(page[-1]["id"]) + 1, limit=TRADES_PAGE)
            inside = [t for t in page if int(t["time"]) <= window_end]
            yield from inside
            if len(inside) < len(page):
                break
        window = window_end + 1


def trades_of_order(rest: BinanceRest, symbol: str, order_id: int) -> Iterator[dict[str, Any]]:
    """Every trade of one order, oldest first."""
    page = rest.user_trades(symbol, orderId=order_id, limit=TRADES_PAGE)
    yield from page
    while len(page) == TRADES_PAGE:
        page = rest.user_trades(symbol, orderId=order_id, fromId=int(page[-1]["id"]) + 1, limit=TRADES_PAGE)
        yield from page


class Resync:
    """One resynchronisation; `run()` queues what it found on the translator."""

    def __init__(self, rest: BinanceRest, lookup: Lookup, translator: EventTranslator) -> None:
        self._rest, self._lookup, self._translator = rest, lookup, translator
        self._client_ids: dict[tuple[str, int], str] = {}  # (symbol, order id) -> client id, learned here
        self._fills: list[Fill] = []
        self._taken: set[tuple[str, int]] = set()

    def run(self, symbols: Iterable[str], start_ms: int, end_ms: int) -> None:
        found = self._look_up_open_orders()
        for symbol in sorted(set(symbols)):
            for trade in trades_between(self._rest, symbol, start_ms, end_ms):
                self._take(trade, None)
        for state, actual_id in found:
            self._fills_of_filled_order(state, actual_id)
        self._fills.sort(key=lambda f: (f.at, f.trade_id))
        events: list[ExchangeEvent] = [*self._fills, *(s for s, _ in found), *self._positions(end_ms)]
        self._translator.push(events)

    def _positions(self, at: int) -> list[PositionChanged]:
        """What the missed ACCOUNT_UPDATEs would have said of each symbol that traded in the gap: its position
        now, with the reason of the last foreign order that traded it, if one did."""
        traded = {f.symbol for f in self._fills}
        if not traded:
            return []
        held = {
            row["symbol"]: blank_as_zero(row["positionAmt"])
            for row in self._rest.position_risk()
            if row.get("positionSide", "BOTH") == "BOTH"
        }
        changes = []
        for symbol in sorted(traded):
            foreign = [f for f in self._fills if f.symbol == symbol and not self._translator.is_ours(f.client_order_id)]
            reason = outside_reason(foreign[-1].client_order_id) if foreign else PositionChangeReason.RESYNC
            changes.append(
                PositionChanged(
                    symbol=symbol,
                    quantity=held.get(symbol, ZERO),
                    reason=reason.value,
                    at=at,
                    client_order_id=foreign[-1].client_order_id if foreign else "",
                )
            )
        return changes

    def _look_up_open_orders(self) -> list[tuple[OrderState, int | None]]:
        """The orders we last saw open, as they are now (only those that changed)."""
        found = []
        for last in self._translator.open_tracked():
            state, actual_id = self._lookup(last.symbol, last.client_order_id)
            if state is not None and state != last:
                found.append((state, actual_id))
                if actual_id is not None:
                    self._client_ids[(state.symbol, actual_id)] = state.client_order_id
        return found

    def _fills_of_filled_order(self, state: OrderState, actual_id: int | None) -> None:
        if state.filled_qty <= 0:
            return
        reported = self._translator.filled(state.client_order_id)
        reported += sum((f.quantity for f in self._fills if f.client_order_id == state.client_order_id), ZERO)
        if reported >= state.filled_qty:
            return
        if state.type is not OrderType.MARKET and actual_id is None:
            return  # a conditional order's trades are those of the order it became: unknown here
        order_id = actual_id if actual_id is not None else state.exchange_order_id
        for trade in trades_of_order(self._rest, state.symbol, order_id):
            self._take(trade, state.client_order_id)

    def _take(self, trade: dict[str, Any], client_id: str | None) -> None:
        symbol, trade_id = str(trade["symbol"]), int(trade["id"])
        if (symbol, trade_id) in self._taken or self._translator.seen_trade(symbol, trade_id):
            return
        self._taken.add((symbol, trade_id))
        self._fills.append(fill_from_rest_trade(trade, client_id or self._client_id(symbol, int(trade["orderId"]))))

    def _client_id(self, symbol: str, order_id: int) -> str:
        """Ours when we know the order (a triggered conditional order under the conditional's id), else the
        exchange's client id of that order."""
        key = (symbol, order_id)
        if key not in self._client_ids:
            known = self._translator.client_id_for_order(order_id)
            self._client_ids[key] = known or str(self._rest.order_by_id(symbol, order_id)["clientOrderId"])
        return self._client_ids[key]
