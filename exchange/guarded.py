"""An exchange port that asks before every order it sends or cancels: the account's lease (service/lease.py) says
whether this process may still act on the account. Reads pass straight through."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exchange.market import Candle, SymbolFilters
from exchange.port import Balance, ExchangeEvent, ExchangePort, ExchangePosition, Fill, OrderRequest, OrderState


class GuardedPort:
    def __init__(self, port: ExchangePort, may_act: Callable[[], None]) -> None:
        """`may_act` raises (and the order is not sent) when this process may no longer act on the account."""
        self.port = port
        self.may_act = may_act

    def place_order(self, request: OrderRequest) -> OrderState:
        self.may_act()
        return self.port.place_order(request)

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        self.may_act()
        return self.port.cancel_order(symbol, client_order_id)

    def get_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        return self.port.get_order(symbol, client_order_id)

    def order_fills(self, symbol: str, client_order_id: str) -> tuple[Fill, ...]:
        return self.port.order_fills(symbol, client_order_id)

    def open_orders(self, symbol: str | None = None) -> tuple[OrderState, ...]:
        return self.port.open_orders(symbol)

    def positions(self) -> tuple[ExchangePosition, ...]:
        return self.port.positions()

    def balance(self) -> Balance:
        return self.port.balance()

    def symbol_filters(self, symbol: str) -> SymbolFilters:
        return self.port.symbol_filters(symbol)

    def refresh_filters(self) -> None:
        self.port.refresh_filters()

    def drain_events(self) -> tuple[ExchangeEvent, ...]:
        return self.port.drain_events()

    def pending_events(self) -> tuple[ExchangeEvent, ...]:
        return self.port.pending_events()

    def reports_every_change(self) -> bool:
        return self.port.reports_every_change()

    def blocked(self) -> str:
        return self.port.blocked()

    def health(self) -> str:
        return self.port.health()

    def on_candle(self, candle: Candle) -> None:
        self.port.on_candle(candle)

    def configured_spread_bps(self, symbol: str) -> float | None:
        return self.port.configured_spread_bps(symbol)

    def to_state(self) -> dict[str, Any] | None:
        return self.port.to_state()

    def revision(self) -> int:
        return self.port.revision()

    def close(self) -> None:
        self.port.close()
