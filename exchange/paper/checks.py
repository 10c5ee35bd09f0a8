"""The paper exchange's checks of an order request, in Binance's order and with its codes and messages.

Pure: each raises `OrderRejected` for the first rule the request breaks, before anything changes.
"""

from __future__ import annotations

from decimal import Decimal

from exchange.market import SymbolFilters
from exchange.paper.rules import is_multiple, reduces, triggers_on_rise
from exchange.port import CLIENT_ORDER_ID_PATTERN, OrderRejected, OrderRequest, OrderType, RejectCode


def check_client_id(client_order_id: str) -> None:
    if not 1 <= len(client_order_id) <= 36:
        raise OrderRejected(RejectCode.INVALID_CLIENT_ORDER_ID, "Client order id length should be 1 to 36 chars.")
    if not CLIENT_ORDER_ID_PATTERN.match(client_order_id):
        raise OrderRejected(RejectCode.ILLEGAL_CHARS, "Illegal characters found in parameter 'newClientOrderId'.")


def check_order(
    request: OrderRequest, filters: SymbolFilters, *, position_qty: Decimal, last_price: Decimal | None
) -> None:
    """The request against its symbol's rules, the position it would reduce and the last price seen."""
    _check_quantity(request, filters)
    _check_trigger(request, filters, last_price)
    if request.reduce_only and not reduces(request.side, position_qty):
        raise OrderRejected(RejectCode.REDUCE_ONLY_REJECT, "ReduceOnly Order is rejected.")
    # As on Binance, reduce-only orders are exempt: closing a small remainder must stay possible.
    reference = request.trigger_price or last_price
    if not request.reduce_only and reference is not None and request.quantity * reference < filters.min_notional:
        raise OrderRejected(
            RejectCode.MIN_NOTIONAL,
            f"Order's notional must be no smaller than {filters.min_notional}.",
        )


def _check_quantity(request: OrderRequest, filters: SymbolFilters) -> None:
    if request.quantity <= 0:
        raise OrderRejected(RejectCode.QTY_LESS_THAN_ZERO, "Quantity less than or equal to zero.")
    if not is_multiple(request.quantity, filters.step_size):
        raise OrderRejected(RejectCode.QTY_NOT_INCREASED_BY_STEP_SIZE, "Qty not increased by step size.")
    if request.quantity < filters.min_qty:
        raise OrderRejected(RejectCode.QTY_LESS_THAN_MIN_QTY, "Quantity less than min quantity.")


def _check_trigger(request: OrderRequest, filters: SymbolFilters, last: Decimal | None) -> None:
    if request.type is OrderType.MARKET:
        if request.trigger_price is not None:
            raise OrderRejected(RejectCode.PARAM_NOT_REQUIRED, "Parameter 'stopPrice' sent when not required.")
        return
    trigger = request.trigger_price
    if trigger is None or trigger <= 0:
        raise OrderRejected(
            RejectCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
            "Mandatory parameter 'stopPrice' was not sent.",
        )
    if not is_multiple(trigger, filters.tick_size):
        raise OrderRejected(RejectCode.PRICE_NOT_INCREASED_BY_TICK_SIZE, "Price not increased by tick size.")
    if last is not None and (last >= trigger if triggers_on_rise(request.side, request.type) else last <= trigger):
        raise OrderRejected(RejectCode.ORDER_WOULD_IMMEDIATELY_TRIGGER, "Order would immediately trigger.")
