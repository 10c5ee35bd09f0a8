"""The orders of one Binance account: placing, canceling and reading them back, regular and conditional alike.

Market orders go to `/fapi/v1/order`; reduce-only STOP_MARKET / TAKE_PROFIT_MARKET
go to the algo service (`/fapi/v1/algoOrder`, where python-binance routes them),
with our client order id as `clientAlgoId`. Which service holds an order is the
translator's to say (`translator.py`): an order this process did not place is
looked for in both.

An order whose request's outcome was lost (OutcomeUnknown) is remembered for
`lookup_grace_s`: until then, "does not exist" on a lookup is NotFoundYet, since
Binance can answer so for a while before such an order appears.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from exchange.binance import payloads
from exchange.binance.rest import BinanceRest
from exchange.binance.resync import trades_of_order
from exchange.binance.translator import EventTranslator
from exchange.port import (
    ExchangeError,
    Fill,
    NotFoundYet,
    OrderRejected,
    OrderRequest,
    OrderState,
    OrderType,
    OutcomeUnknown,
    RejectCode,
)


def _text(value: Decimal) -> str:
    return format(value, "f")  # never an exponent: Binance refuses "1E+1"


class BinanceOrders:
    """The order calls of the port. `ready` runs before each request (the exchange's start, if one was put off)."""

    def __init__(
        self,
        *,
        rest: BinanceRest,
        translator: EventTranslator,
        ready: Callable[[], None],
        working_type: str,
        lookup_grace_s: float,
        monotonic: Callable[[], float],
    ) -> None:
        self._rest, self._translator, self._ready = rest, translator, ready
        self._working_type, self._lookup_grace_s, self._monotonic = working_type, lookup_grace_s, monotonic
        self._uncertain: dict[str, float] = {}  # client id -> when its request's outcome was lost (monotonic)

    def place(self, request: OrderRequest) -> OrderState:
        try:
            state = self._place(request)
        except OutcomeUnknown:
            self._uncertain[request.client_order_id] = self._monotonic()
            raise
        self._translator.register(state)
        return state

    def _place(self, request: OrderRequest) -> OrderState:
        self._ready()
        params: dict[str, Any] = {
            "symbol": request.symbol,
            "side": request.side.value,
            "type": request.type.value,
            "quantity": _text(request.quantity),
        }
        if request.type is OrderType.MARKET:
            params.update(newClientOrderId=request.client_order_id, newOrderRespType="RESULT")
            if request.reduce_only:
                params["reduceOnly"] = "true"
            state = payloads.order_from_rest(self._rest.create_order(**params))
        else:
            if request.trigger_price is None:
                raise OrderRejected(
                    RejectCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED, "Mandatory parameter 'stopPrice' was not sent."
                )
            params.update(
                clientAlgoId=request.client_order_id,
                stopPrice=_text(request.trigger_price),
                reduceOnly="true" if request.reduce_only else "false",
                workingType=self._working_type,
            )
            state = payloads.algo_from_rest(self._rest.create_algo_order(**params), None, canceled_by_us=False)
        if state is None:
            raise OutcomeUnknown("the exchange answered with an order the port cannot read")
        return state

    def cancel(self, symbol: str, client_order_id: str) -> OrderState:
        self._ready()
        kind = self._translator.kind(client_order_id)
        if kind != "algo":
            try:
                state = payloads.order_from_rest(self._rest.cancel_order(symbol, client_order_id))
                if state is None:
                    raise OrderRejected(RejectCode.UNKNOWN_ORDER, "Unknown order sent.")
                return state
            except OrderRejected as e:
                if kind == "regular" or e.code != RejectCode.UNKNOWN_ORDER:
                    raise
        # Marked before sending: the stream's CANCELED may arrive before the answer.
        self._translator.mark_canceling(client_order_id)
        try:
            self._rest.cancel_algo_order(symbol, client_order_id)
        except ExchangeError as e:
            if isinstance(e, OrderRejected):
                self._translator.mark_canceling(client_order_id, False)
            raise
        state, _ = self._lookup_algo(symbol, client_order_id)
        if state is None:
            raise OutcomeUnknown("the canceled order could not be read back")
        return state

    def get(self, symbol: str, client_order_id: str) -> OrderState | None:
        """None when Binance does not know the order, unless its request's outcome was lost less than
        `lookup_grace_s` ago: Binance can answer "Order does not exist." for a while before such an order appears,
        so that is still OutcomeUnknown (ask again later)."""
        state = self.lookup(symbol, client_order_id)[0]
        self._found(client_order_id, state)
        return state

    def _found(self, client_order_id: str, state: OrderState | None) -> None:
        """Raises NotFoundYet (an OutcomeUnknown) for an order not found within the grace after its request's
        outcome was lost."""
        lost_at = self._uncertain.get(client_order_id)
        if lost_at is None:
            return
        age = self._monotonic() - lost_at
        if state is None and age < self._lookup_grace_s:
            raise NotFoundYet(
                f"{client_order_id} not found {age:.0f} s after its request's outcome was lost; it may still appear"
            )
        del self._uncertain[client_order_id]

    def lookup(self, symbol: str, client_order_id: str) -> tuple[OrderState | None, int | None]:
        """The order's state and, for a triggered conditional order, the regular order it became."""
        self._ready()
        kind = self._translator.kind(client_order_id)
        if kind != "algo":
            try:
                return payloads.order_from_rest(self._rest.order(symbol, client_order_id)), None
            except OrderRejected as e:
                if kind == "regular" or e.code not in (RejectCode.NO_SUCH_ORDER, RejectCode.UNKNOWN_ORDER):
                    raise
        return self._lookup_algo(symbol, client_order_id)

    def _lookup_algo(self, symbol: str, client_order_id: str) -> tuple[OrderState | None, int | None]:
        try:
            algo = self._rest.algo_order(symbol, client_order_id)
        except OrderRejected as e:
            if e.code in (RejectCode.NO_SUCH_ORDER, RejectCode.UNKNOWN_ORDER):
                return None, None
            raise
        actual_id = int(algo["actualOrderId"]) if algo.get("actualOrderId") else None
        actual = None
        if actual_id is not None:
            self._translator.link_actual(actual_id, client_order_id)
            if algo.get("algoStatus") not in ("TRIGGERING", "TRIGGERED"):
                actual = self._rest.order_by_id(symbol, actual_id)
        canceled = self._translator.canceled_by_us(client_order_id)
        return payloads.algo_from_rest(algo, actual, canceled_by_us=canceled), actual_id

    def fills(self, symbol: str, client_order_id: str) -> tuple[Fill, ...]:
        """The order's trades through `userTrades`, under our client id: for a conditional order, those of
        the regular order it became when it triggered."""
        state, actual_id = self.lookup(symbol, client_order_id)
        self._found(client_order_id, state)
        if state is None:
            return ()
        if state.type is not OrderType.MARKET and actual_id is None:
            return ()  # a conditional order not triggered: no trades
        order_id = actual_id if actual_id is not None else state.exchange_order_id
        trades = trades_of_order(self._rest, symbol, order_id)
        return tuple(
            sorted(
                (payloads.fill_from_rest_trade(t, client_order_id) for t in trades), key=lambda f: (f.at, f.trade_id)
            )
        )

    def open_orders(self, symbol: str | None) -> tuple[OrderState, ...]:
        self._ready()
        params = {} if symbol is None else {"symbol": symbol}
        regular = self._rest.open_orders(**params)
        algos = self._rest.open_algo_orders(**params)
        states = [payloads.order_from_rest(d) for d in regular]
        states += [payloads.algo_from_rest(d, None, canceled_by_us=False) for d in algos]
        return tuple(sorted((s for s in states if s is not None), key=lambda s: (s.updated_at, s.exchange_order_id)))
