"""Rounding to a symbol's exchange filters (tick size, step size), shared by sizing and the exit math. Pure.

Each caller picks the direction that keeps its own promise: sizing rounds quantities down (never more than the
risk budget buys) and stops toward the entry (never further away than sized); the exit math rounds targets
toward the entry and trailed stops away from the best price (actors/risk/sizing.py, actors/exits/strategies.py).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal


def round_down_to_step(quantity: Decimal, step: Decimal) -> Decimal:
    return (quantity / step).to_integral_value(rounding=ROUND_FLOOR) * step


def round_up_to_step(quantity: Decimal, step: Decimal) -> Decimal:
    return (quantity / step).to_integral_value(rounding=ROUND_CEILING) * step


def round_price_toward(price: Decimal, tick: Decimal, reference: Decimal) -> Decimal:
    """Round to the tick in the direction of `reference` (used for stops and targets)."""
    mode = ROUND_CEILING if price < reference else ROUND_FLOOR
    return (price / tick).to_integral_value(rounding=mode) * tick
