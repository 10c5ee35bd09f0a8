"""Orders that appear late: Binance can lose the answer to an order request (a timeout, a 5xx) and, for a while,
answer "Order does not exist." to lookups of it, before the order shows up after all and executes.

`Faults.late_order` arms it. The request is held past the client's timeout and answered with a 503 without reaching
the matching engine; the order waits here. A GET by its client id answers -2013 while the order has lookups left
(or until its time comes, on the fake's clock); the lookup after that, any request at or after its time, or
`Faults.release_late_orders()` make it appear: the original request is executed then (a market order fills at the
price of that moment; one the engine now refuses never appears).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

LOOKUPS = {"/fapi/v1/order": "origClientOrderId", "/fapi/v1/algoOrder": "clientAlgoId"}  # path -> lookup key
SENT_IDS = {"/fapi/v1/order": "newClientOrderId", "/fapi/v1/algoOrder": "clientAlgoId"}  # path -> key when sent


@dataclass(slots=True)
class LateOrder:
    path: str  # where it was sent: /fapi/v1/order or /fapi/v1/algoOrder
    params: dict[str, str]  # the request, executed when the order appears
    lookups: int | None  # lookups still answered -2013 (None: only the time counts)
    appear_at: int | None  # server ms from which it exists whatever the lookups (None: only lookups count)

    @property
    def client_id(self) -> str:
        return self.params.get(SENT_IDS[self.path], "")


class LateOrders:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[LateOrder] = []

    def add(self, order: LateOrder) -> None:
        with self._lock:
            self._waiting.append(order)

    def due(self, now: int) -> list[LateOrder]:
        """The orders whose time has come, taken out."""
        with self._lock:
            ready = [o for o in self._waiting if o.appear_at is not None and o.appear_at <= now]
            self._waiting = [o for o in self._waiting if o not in ready]
        return ready

    def lookup(self, path: str, params: dict[str, str]) -> tuple[bool, LateOrder | None]:
        """For a GET of `path`: (hide it, answering -2013; or the order that appears now)."""
        key = LOOKUPS.get(path)
        if key is None or key not in params:
            return False, None
        with self._lock:
            order = next((o for o in self._waiting if o.path == path and o.client_id == params[key]), None)
            if order is None:
                return False, None
            if order.lookups is None or order.lookups > 0:
                if order.lookups is not None:
                    order.lookups -= 1
                return True, None
            self._waiting.remove(order)
            return False, order

    def release(self) -> list[LateOrder]:
        """Every waiting order, taken out."""
        with self._lock:
            ready, self._waiting = self._waiting, []
        return ready

    def waiting(self) -> list[str]:
        with self._lock:
            return [o.client_id for o in self._waiting]
