"""What the Binance port's tests share: a manual monotonic clock, a translator that says when events are queued,
order requests, and waiting for events without sleeping. The fixtures built on them are in `conftest.py`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal

from exchange.binance.account import BinanceExchange
from exchange.binance.translator import EventTranslator
from exchange.port import (
    ExchangeEvent,
    Fill,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderStatus,
    OrderType,
)

D = Decimal
SYMBOL = "BTCUSDT"
ORDER = ("POST", "/fapi/v1/order")
ALGO = ("POST", "/fapi/v1/algoOrder")
Done = Callable[[list[ExchangeEvent]], bool]


class ManualClock:
    """The port's monotonic clock: bans, keepalives and stream silence advance only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class WaitingTranslator(EventTranslator):
    """The port's translator, telling the test when events are queued (the service drains at each step instead)."""

    def __init__(self) -> None:
        super().__init__()
        self._queued = threading.Condition()

    def push(self, events: list[ExchangeEvent]) -> None:
        super().push(events)
        with self._queued:
            self._queued.notify_all()

    def wait(self, timeout: float) -> bool:
        """True as soon as events are queued; False after `timeout` seconds without any."""
        with self._queued:
            return self._queued.wait_for(lambda: bool(self.pending()), timeout)


def market(
    cid: str, side: OrderSide = OrderSide.BUY, qty: str = "0.010", reduce_only: bool = False, symbol: str = SYMBOL
) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid, symbol=symbol, side=side, type=OrderType.MARKET, quantity=D(qty), reduce_only=reduce_only
    )


def protective(cid: str, kind: OrderType, trigger: str, qty: str = "0.010") -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol=SYMBOL,
        side=OrderSide.SELL,
        type=kind,
        quantity=D(qty),
        trigger_price=D(trigger),
        reduce_only=True,
    )


def collect(ex: BinanceExchange, done: Done, timeout: float = 5.0) -> list[ExchangeEvent]:
    """Drain events until `done(all so far)`; waits on the port's event signal, never sleeps."""
    events: list[ExchangeEvent] = []
    deadline = time.monotonic() + timeout
    while True:
        events.extend(ex.drain_events())
        if done(events):
            return events
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out waiting; got {events}")
        translator = ex.translator
        assert isinstance(translator, WaitingTranslator)
        translator.wait(min(remaining, 0.5))


def has_state(cid: str, status: OrderStatus) -> Done:
    return lambda events: any(
        isinstance(e, OrderState) and e.client_order_id == cid and e.status is status for e in events
    )


def all_of(*tests: Done) -> Done:
    return lambda events: all(t(events) for t in tests)


def fills(events: Sequence[ExchangeEvent], cid: str | None = None) -> list[Fill]:
    return [e for e in events if isinstance(e, Fill) and cid in (None, e.client_order_id)]


def states(events: Sequence[ExchangeEvent], cid: str) -> list[OrderState]:
    return [e for e in events if isinstance(e, OrderState) and e.client_order_id == cid]


def open_protected(ex: BinanceExchange, stop: str = "39000", take: str = "42000") -> None:
    ex.place_order(market("e1"))
    ex.place_order(protective("sl1", OrderType.STOP_MARKET, stop))
    ex.place_order(protective("tp1", OrderType.TAKE_PROFIT_MARKET, take))
    collect(ex, all_of(has_state("e1", OrderStatus.FILLED), has_state("tp1", OrderStatus.NEW)))
