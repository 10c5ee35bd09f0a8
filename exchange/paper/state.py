"""The paper exchange's saved account: its JSON shape, written and read here alone.

`encode` and `decode` are pure and exact inverses: Decimals travel as strings, the
last prices as the shortest repr of their floats, so an account restored from its
saved state behaves identically to the one that was saved (same fills, same prices,
same ids). The simulation terms (fee, slippage) are part of the account: a restored
account keeps the terms it traded under even if the settings changed meanwhile.

A state of another version, or with a key missing or malformed, raises
`PaperStateError` (a `ValueError`) naming what is wrong. Only `fills` may be
absent: states saved before the fills were kept have none, and read as none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from exchange import codec
from exchange.market import SymbolFilters
from exchange.port import ExchangeEvent, Fill, OrderState

STATE_VERSION = 1


class PaperStateError(ValueError):
    """A saved paper account that cannot be restored; the message says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PaperState:
    """Everything a paper account is, at one moment."""

    starting_balance: Decimal
    fee_rate: Decimal
    slippage_bps: Decimal
    wallet_balance: Decimal
    now: int  # the latest candle close seen (UTC ms)
    next_order_id: int
    next_trade_id: int
    last_prices: Mapping[str, float]  # symbol -> last close, as the candles gave it
    filters: Mapping[str, SymbolFilters]
    positions: Mapping[str, tuple[Decimal, Decimal]]  # symbol -> (signed quantity, entry price); never flat
    orders: tuple[OrderState, ...]  # every accepted order, in placement order
    open: Mapping[str, tuple[str, ...]]  # symbol -> its open client ids, in placement order
    events: tuple[ExchangeEvent, ...]  # queued for the next drain_events
    fills: tuple[Fill, ...]  # the one fill of every filled order


def encode(state: PaperState) -> dict[str, Any]:
    """The account as JSON-able data."""
    return {
        "version": STATE_VERSION,
        "starting_balance": str(state.starting_balance),
        "fee_rate": str(state.fee_rate),
        "slippage_bps": str(state.slippage_bps),
        "wallet_balance": str(state.wallet_balance),
        "now": state.now,
        "next_order_id": state.next_order_id,
        "next_trade_id": state.next_trade_id,
        "last_prices": {symbol: repr(price) for symbol, price in state.last_prices.items()},
        "filters": {symbol: codec.encode_filters(f) for symbol, f in state.filters.items()},
        "positions": {s: {"quantity": str(q), "entry_price": str(e)} for s, (q, e) in state.positions.items()},
        "orders": [codec.encode(order) for order in state.orders],
        "open": {symbol: list(cids) for symbol, cids in state.open.items()},
        "events": [codec.encode_event(event) for event in state.events],
        "fills": [codec.encode_event(fill) for fill in state.fills],
    }


def decode(data: Mapping[str, Any]) -> PaperState:
    """The inverse of `encode`; raises `PaperStateError` for a state it cannot read."""
    version = data.get("version")
    if version != STATE_VERSION:
        raise PaperStateError(f"paper exchange state version {version!r}, expected {STATE_VERSION}")
    try:
        return _decode(data)
    except KeyError as e:
        raise PaperStateError(f"paper exchange state version {STATE_VERSION} without {e.args[0]!r}") from e
    except (TypeError, ValueError, AttributeError, InvalidOperation) as e:
        raise PaperStateError(f"paper exchange state unreadable: {type(e).__name__}: {e}") from e


def _decode(data: Mapping[str, Any]) -> PaperState:
    fills = (codec.decode_event(f) for f in data.get("fills", ()))  # absent from states saved before it was kept
    return PaperState(
        starting_balance=Decimal(data["starting_balance"]),
        fee_rate=Decimal(data["fee_rate"]),
        slippage_bps=Decimal(data["slippage_bps"]),
        wallet_balance=Decimal(data["wallet_balance"]),
        now=int(data["now"]),
        next_order_id=int(data["next_order_id"]),
        next_trade_id=int(data["next_trade_id"]),
        last_prices={symbol: float(price) for symbol, price in data["last_prices"].items()},
        filters={symbol: codec.decode_filters(f) for symbol, f in data["filters"].items()},
        positions={
            symbol: (Decimal(p["quantity"]), Decimal(p["entry_price"])) for symbol, p in data["positions"].items()
        },
        orders=tuple(codec.decode(OrderState, o) for o in data["orders"]),
        open={symbol: tuple(cids) for symbol, cids in data["open"].items()},
        events=tuple(codec.decode_event(e) for e in data["events"]),
        fills=tuple(f for f in fills if isinstance(f, Fill)),
    )
