"""The paper exchange's market rules, as pure functions: filters, triggers, fill prices, position math.

Money is kept to 8 decimal places (USDT's precision on Binance) so that every
balance change has a bounded number of digits and sums of them stay exact under
the default 28-digit Decimal context.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from exchange.market import SymbolFilters
from exchange.port import OrderSide, OrderState, OrderType

MONEY_QUANTUM = Decimal("0.00000001")
ZERO = Decimal(0)

_FIVE = Decimal(5)


def _lot(tick: str, step: str) -> SymbolFilters:
    return SymbolFilters(tick_size=Decimal(tick), step_size=Decimal(step), min_qty=Decimal(step), min_notional=_FIVE)


# Approximately Binance's rules; min notional kept at 5 USDT for every symbol so that
# small paper accounts can trade. Override with `PaperExchange(filters=...)`.
DEFAULT_FILTERS: dict[str, SymbolFilters] = {
    "BTCUSDT": _lot("0.1", "0.001"),
    "ETHUSDT": _lot("0.01", "0.001"),
    "BNBUSDT": _lot("0.01", "0.01"),
    "SOLUSDT": _lot("0.01", "0.01"),
    "XRPUSDT": _lot("0.0001", "0.1"),
}


def filters_for_price(price: Decimal) -> SymbolFilters:
    """Generic rules for a symbol nobody configured, from the magnitude of its price.

    Five significant digits of price, and one step worth between 1 and 10 USDT:
    close to what Binance lists for most USDT perpetuals.
    """
    if price <= 0:
        raise ValueError(f"cannot derive filters from price {price}")
    exponent = price.adjusted()  # floor(log10(price))
    step = Decimal(1).scaleb(-exponent)
    return SymbolFilters(
        tick_size=Decimal(1).scaleb(exponent - 4),
        step_size=step,
        min_qty=step,
        min_notional=_FIVE,
    )


def is_multiple(value: Decimal, unit: Decimal) -> bool:
    return value % unit == 0


def triggers_on_rise(side: OrderSide, order_type: OrderType) -> bool:
    """A buy stop and a sell take-profit wait for the price to rise to the trigger."""
    return (order_type is OrderType.STOP_MARKET) == (side is OrderSide.BUY)


def is_triggered(order: OrderState, price: Decimal) -> bool:
    assert order.trigger_price is not None
    if triggers_on_rise(order.side, order.type):
        return price >= order.trigger_price
    return price <= order.trigger_price


def reduces(side: OrderSide, position_qty: Decimal) -> bool:
    """Whether an order on `side` would shrink the net position (one-way mode)."""
    if side is OrderSide.BUY:
        return position_qty < 0
    return position_qty > 0


def taker_price(reference: Decimal, side: OrderSide, cost: Decimal, filters: SymbolFilters) -> Decimal:
    """Reference price moved against the taker by `cost` (a fraction: half the spread and the slippage), then to a
    tick, again against the taker."""
    moved = reference * (1 + cost) if side is OrderSide.BUY else reference * (1 - cost)
    price = filters.round_price(moved, up=side is OrderSide.BUY)
    return price if price > 0 else filters.tick_size


def fee_for(quantity: Decimal, price: Decimal, fee_rate: Decimal) -> Decimal:
    return (quantity * price * fee_rate).quantize(MONEY_QUANTUM, ROUND_HALF_UP)


def apply_fill(
    position_qty: Decimal,
    entry_price: Decimal,
    side: OrderSide,
    quantity: Decimal,
    price: Decimal,
) -> tuple[Decimal, Decimal, Decimal]:
    """(new signed quantity, new entry price, realized PnL) after a fill, in one-way mode.

    Adding to a position averages the entry; reducing realizes PnL against the entry
    and keeps it; crossing zero realizes the whole old position and opens the rest
    at the fill price.
    """
    signed = quantity if side is OrderSide.BUY else -quantity
    new_qty = position_qty + signed
    if position_qty == 0:
        return new_qty, price, ZERO
    if (position_qty > 0) == (signed > 0):
        held = abs(position_qty)
        entry = ((held * entry_price + quantity * price) / (held + quantity)).quantize(MONEY_QUANTUM, ROUND_HALF_EVEN)
        return new_qty, entry, ZERO
    closed = min(abs(position_qty), quantity)
    direction = 1 if position_qty > 0 else -1
    realized = (closed * (price - entry_price) * direction).quantize(MONEY_QUANTUM, ROUND_HALF_EVEN)
    if new_qty == 0:
        return ZERO, ZERO, realized
    if (new_qty > 0) != (position_qty > 0):
        return new_qty, price, realized
    return new_qty, entry_price, realized


def unrealized_pnl(position_qty: Decimal, entry_price: Decimal, mark: Decimal) -> Decimal:
    return (position_qty * (mark - entry_price)).quantize(MONEY_QUANTUM, ROUND_HALF_EVEN)
