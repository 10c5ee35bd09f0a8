"""Resynchronisation after a user-data stream gap: what the stream would have said, read through REST.

Binance does not replay a stream: whatever happened while the socket was down
(a stop that filled, a liquidation, a position closed by hand) is only in REST.
So, before the new connection is read:

1. every order we placed and last saw open is looked up by client id (this also
   learns which regular order a triggered conditional order became);
2. every trade since the gap began on the symbols we trade is read
   (`userTrades`); trades not yet reported become `Fill`s, under our client id
   when the order is ours and under the exchange's (`autoclose-...`, `web_...`)
   when it is not, so the caller sees closes it did not ask for.

Fills are queued before order states, as the stream orders them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from exchange.binance.payloads import fill_from_rest_trade
from exchange.binance.rest import BinanceRest
from exchange.binance.user_stream import EventTranslator
from exchange.port import ExchangeEvent, Fill, OrderState

# (symbol, client order id) -> (the order's state or None, the regular order a triggered conditional one became)
Lookup = Callable[[str, str], tuple[OrderState | None, int | None]]


def resync_orders(
    rest: BinanceRest,
    lookup: Lookup,
    translator: EventTranslator,
    symbols: Iterable[str],
    since_ms: int,
) -> None:
    states: list[OrderState] = []
    for last in translator.open_tracked():
        state, _ = lookup(last.symbol, last.client_order_id)
        if state is not None and state != last:
            states.append(state)
    fills: list[Fill] = []
    for symbol in sorted(set(symbols)):
        for trade in rest.user_trades(symbol, startTime=since_ms):
            if translator.seen_trade(int(trade["id"])):
                continue
            order_id = int(trade["orderId"])
            client_id = translator.client_id_for_order(order_id)
            if client_id is None:
                client_id = str(rest.order_by_id(symbol, order_id)["clientOrderId"])
            fills.append(fill_from_rest_trade(trade, client_id))
    fills.sort(key=lambda f: (f.at, f.trade_id))
    events: list[ExchangeEvent] = [*fills, *states]
    translator.push(events)
