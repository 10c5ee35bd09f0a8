"""JSON-able dicts for the port's dataclasses: Decimals as strings, enums as their values.

Strings, not floats, because a price or a balance must come back exactly as it went
out: a paper account restored from its saved state has to behave identically.
"""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal
from typing import Any, TypeVar

from exchange.port import (
    ExchangeEvent,
    Fill,
    OrderSide,
    OrderState,
    OrderStatus,
    OrderType,
    PositionChanged,
    SymbolFilters,
)

T = TypeVar("T")

# Field names mean the same thing on every port dataclass, so one table decodes them all.
_DECIMAL_FIELDS = frozenset(
    {
        "quantity",
        "trigger_price",
        "filled_qty",
        "avg_price",
        "price",
        "fee",
        "realized_pnl",
        "tick_size",
        "step_size",
        "min_qty",
        "min_notional",
    }
)
_ENUM_FIELDS: dict[str, type] = {"side": OrderSide, "type": OrderType, "status": OrderStatus}
_EVENT_KINDS: dict[str, type] = {"fill": Fill, "order": OrderState, "position": PositionChanged}


def encode(obj: Any) -> dict[str, Any]:
    """A flat dataclass as a dict of JSON scalars."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, (OrderSide, OrderType, OrderStatus)):
            value = value.value
        out[f.name] = value
    return out


def decode(cls: type[T], data: dict[str, Any]) -> T:
    """The inverse of `encode` for `cls`."""
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if value is not None and name in _DECIMAL_FIELDS:
            value = Decimal(value)
        elif value is not None and name in _ENUM_FIELDS:
            value = _ENUM_FIELDS[name](value)
        kwargs[name] = value
    return cls(**kwargs)


def encode_event(event: ExchangeEvent) -> dict[str, Any]:
    kind = next(k for k, cls in _EVENT_KINDS.items() if isinstance(event, cls))
    return {"kind": kind, **encode(event)}


def decode_event(data: dict[str, Any]) -> ExchangeEvent:
    body = dict(data)
    cls = _EVENT_KINDS[body.pop("kind")]
    return decode(cls, body)


def encode_filters(filters: SymbolFilters) -> dict[str, str]:
    return encode(filters)


def decode_filters(data: dict[str, str]) -> SymbolFilters:
    return decode(SymbolFilters, data)
