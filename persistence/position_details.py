"""The `positions.details` column: what a live position needs beyond the row's columns, as one typed view.

This module is the column's only reader and writer. The execution engine writes it (`to_json`) and restores
from it after a restart; the exit actor, `positions`, the replay report and the crash test read it through
`PositionDetails.from_json`. Pure: no SQLAlchemy, no actors.

The JSON text is part of the replay reports' byte-identity: keys sorted, Decimals as strings, a missing
partial price as null. Reading is tolerant of older rows (a missing key, or null, takes its default) but not
of a value that is not what its key holds: that raises ValueError, and each reader decides what a broken
row means to it (the execution engine stops; `positions` and the report read the defaults).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionDetails:
    """A position's details; `orders` and `numbers` are read-only (copy them to change them)."""

    stop_distance: Decimal = ZERO  # the sized stop distance the entry was planned with
    partial_price: Decimal | None = None  # the partial take-profit's price; None: the plan has none
    partial_quantity: Decimal = ZERO  # what the partial take-profit closes, so a restart can place it again
    # The partial's price was passed before it rested, and that part was taken at market: it is never placed nor
    # taken again. Written only when set, so other rows keep their text.
    partial_taken: bool = False
    risk_per_unit: Decimal = ZERO  # R: the entry-to-stop distance when the position opened (the stop may trail)
    trailing_pct: float = 0.0
    trailing_start: Decimal = ZERO  # distance in favour from the entry where trailing starts; 0: 1R (older rows)
    orders: Mapping[str, str] = field(default_factory=dict)  # purpose -> client order id of its live order
    numbers: Mapping[str, int] = field(default_factory=dict)  # purpose -> last number used in a client order id
    stop_moves: int = 0  # trailing moves: a stop that fills after one is a "trailing stop"
    closed: Decimal = ZERO  # quantity closed by exits
    entry_cost: Decimal = ZERO  # sum of entry fills' quantity x price
    exit_cost: Decimal = ZERO  # sum of exit fills' quantity x price
    # Never written by the service: a money R the replay report falls back on when `risk_per_unit` is missing.
    # Written back only when set, so the engine's text stays exactly what it was.
    risk_at_stop: Decimal | None = None
    # The price the entry was decided at (risk sized it there), for its realised slippage; written when known, so
    # rows made before it was kept read as unknown and keep their text.
    decision_price: Decimal | None = None

    @classmethod
    def from_json(cls, raw: str | None) -> PositionDetails:
        """The view of a column's text; None, "" and "{}" give the defaults. ValueError if it is not a JSON
        object, or a key holds something that is not its kind of value."""
        try:
            data = json.loads(raw or "{}")
        except ValueError as error:
            raise ValueError(f"positions.details is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise ValueError(f"positions.details is not a JSON object: {raw!r}")
        return cls(
            stop_distance=_decimal(data, "stop_distance"),
            partial_price=_optional_decimal(data, "partial_price"),
            partial_quantity=_decimal(data, "partial_quantity"),
            partial_taken=_flag(data, "partial_taken"),
            risk_per_unit=_decimal(data, "risk_per_unit"),
            trailing_pct=_float(data, "trailing_pct"),
            trailing_start=_decimal(data, "trailing_start"),
            orders=_orders(data),
            numbers=_numbers(data),
            stop_moves=_int(data, "stop_moves"),
            closed=_decimal(data, "closed"),
            entry_cost=_decimal(data, "entry_cost"),
            exit_cost=_decimal(data, "exit_cost"),
            risk_at_stop=_optional_decimal(data, "risk_at_stop"),
            decision_price=_optional_decimal(data, "decision_price"),
        )

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "stop_distance": str(self.stop_distance),
            "partial_price": _text(self.partial_price),
            "partial_quantity": str(self.partial_quantity),
            "risk_per_unit": str(self.risk_per_unit),
            "trailing_pct": self.trailing_pct,
            "orders": dict(self.orders),
            "numbers": dict(self.numbers),
            "stop_moves": self.stop_moves,
            "closed": str(self.closed),
            "entry_cost": str(self.entry_cost),
            "exit_cost": str(self.exit_cost),
        }
        if self.trailing_start:  # written only when set: a row from before the modes had their own reads back alike
            data["trailing_start"] = str(self.trailing_start)
        if self.partial_taken:
            data["partial_taken"] = True
        if self.risk_at_stop is not None:
            data["risk_at_stop"] = str(self.risk_at_stop)
        if self.decision_price is not None:
            data["decision_price"] = str(self.decision_price)
        return json.dumps(data, sort_keys=True)

    def open_quantity(self, filled: Decimal) -> Decimal:
        """What is still held of `filled` (the entry's filled quantity, a row column): less what exits closed."""
        return filled - self.closed

    def initial_risk(self, filled: Decimal) -> Decimal | None:
        """The money lost at the stop the position opened with, for `filled` units; None when unknown.

        The row's stop may have trailed since, so only R recorded at entry counts: `risk_per_unit` x filled,
        else a recorded money figure `risk_at_stop`.
        """
        if self.risk_per_unit > 0 and filled > 0:
            return self.risk_per_unit * filled
        if self.risk_at_stop is not None and self.risk_at_stop > 0:
            return self.risk_at_stop
        return None

    def r_multiple(self, net_pnl: Decimal, filled: Decimal) -> float:
        """`net_pnl` in units of the initial risk; 0.0 when the risk is unknown (callers that must tell an
        unknown R from a flat trade check `initial_risk` first)."""
        risk = self.initial_risk(filled)
        return 0.0 if risk is None else float(net_pnl / risk)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _optional_decimal(data: Mapping[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    if value is None:
        return None
    # bool is an int to Python, and a float's own Decimal is its binary expansion: through str instead.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"positions.details {key!r} is not a number: {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"positions.details {key!r} is not a number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"positions.details {key!r} is not a finite number: {value!r}")
    return number


def _decimal(data: Mapping[str, Any], key: str) -> Decimal:
    number = _optional_decimal(data, key)
    return ZERO if number is None else number


def _float(data: Mapping[str, Any], key: str) -> float:
    return float(_decimal(data, key))


def _flag(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError(f"positions.details {key!r} is not true or false: {value!r}")
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    number = _decimal(data, key)
    if number != number.to_integral_value():
        raise ValueError(f"positions.details {key!r} is not a whole number: {data[key]!r}")
    return int(number)


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"positions.details {key!r} is not a JSON object: {value!r}")
    return value


def _orders(data: Mapping[str, Any]) -> dict[str, str]:
    orders = _mapping(data, "orders")
    for purpose, client_id in orders.items():
        if not isinstance(client_id, str):
            raise ValueError(f"positions.details 'orders' {purpose!r} is not a client order id: {client_id!r}")
    return dict(orders)


def _numbers(data: Mapping[str, Any]) -> dict[str, int]:
    numbers = _mapping(data, "numbers")
    return {purpose: _int(numbers, purpose) for purpose in numbers}
