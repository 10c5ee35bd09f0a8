"""The fake's "algo service": conditional orders (STOP_MARKET / TAKE_PROFIT_MARKET) held until the price path
crosses their trigger, then a market order created and filled, as on Binance since 2025-12.

A mixin of `Engine` (it uses the engine's books and order execution, declared below for the type checker); kept
apart so each module stays readable.
"""

from __future__ import annotations

import itertools
from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from scripts.fake_binance import shapes
from scripts.fake_binance.errors import ApiError
from scripts.fake_binance.market import triggered
from scripts.fake_binance.shapes import AlgoOrder, Order

CONDITIONAL = ("STOP_MARKET", "TAKE_PROFIT_MARKET")


def bad(code: int, msg: str) -> ApiError:
    return ApiError(400, code, msg)


def decimals(value: Decimal) -> int:
    """Decimal places that matter: 0.10 has 1, 39000.30 has 1, 40000 has 0."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


class AlgoBook:
    if TYPE_CHECKING:  # what it uses of the Engine it is mixed into
        prices: dict[str, Decimal]
        filters: dict[str, dict[str, Decimal]]
        algos: dict[int, AlgoOrder]
        algos_by_cid: dict[str, AlgoOrder]
        cid_counts: Counter[str]
        user_events: list[dict[str, Any]]
        _algo_ids: itertools.count[int]
        _auto_ids: itertools.count[int]

        def now(self) -> int: ...
        def _symbol(self, params: dict[str, str]) -> str: ...
        def _decimal(self, params: dict[str, str], name: str) -> Decimal: ...
        def _reduce_only(self, params: dict[str, str]) -> bool: ...
        def _check_quantity(self, symbol: str, qty: Decimal) -> None: ...
        def _check_price(self, symbol: str, price: Decimal) -> None: ...
        def _reduces(self, symbol: str, side: str) -> bool: ...
        def _execute_market(self, order: Order, price: Decimal, exec_type: str = "TRADE") -> None: ...
        def _create_order(
            self,
            symbol: str,
            cid: str,
            side: str,
            type_: str,
            orig_type: str,
            qty: Decimal,
            reduce_only: bool,
            stop_price: Decimal | None,
        ) -> Order: ...

    def new_algo(self, params: dict[str, str]) -> dict[str, Any]:
        cid = params.get("clientAlgoId") or f"fake-algo-{next(self._auto_ids)}"
        self.cid_counts[cid] += 1
        symbol = self._symbol(params)
        if params.get("algoType") != "CONDITIONAL":
            raise bad(-1102, "Mandatory parameter 'algoType' was not sent, was empty/null, or malformed.")
        order_type = params.get("type", "")
        if order_type not in CONDITIONAL:
            raise bad(-1116, "Invalid orderType.")
        side = params.get("side", "")
        if side not in ("BUY", "SELL"):
            raise bad(-1117, "Invalid side.")
        if cid in self.algos_by_cid:
            raise bad(-4116, "ClientOrderId is duplicated.")
        qty = self._decimal(params, "quantity")
        self._check_quantity(symbol, qty)
        trigger = self._decimal(params, "triggerPrice")
        self._check_price(symbol, trigger)
        reduce_only = self._reduce_only(params)
        if reduce_only and not self._reduces(symbol, side):
            raise bad(-2022, "ReduceOnly Order is rejected.")
        price = self.prices.get(symbol)
        probe = AlgoOrder(
            algo_id=0,
            client_algo_id=cid,
            symbol=symbol,
            side=side,
            order_type=order_type,
            quantity=qty,
            trigger_price=trigger,
            reduce_only=reduce_only,
            working_type="",
            create_time=0,
        )
        if price is not None and triggered(probe, price):
            raise bad(-2021, "Order would immediately trigger.")
        now = self.now()
        algo = AlgoOrder(
            algo_id=next(self._algo_ids),
            client_algo_id=cid,
            symbol=symbol,
            side=side,
            order_type=order_type,
            quantity=qty,
            trigger_price=trigger,
            reduce_only=reduce_only,
            working_type=params.get("workingType", "CONTRACT_PRICE"),
            create_time=now,
            update_time=now,
        )
        self.algos[algo.algo_id] = algo
        self.algos_by_cid[cid] = algo
        self.user_events.append(shapes.algo_update(algo, at=now))
        return shapes.algo_rest(algo)

    def _find_algo(self, params: dict[str, str]) -> AlgoOrder | None:
        if "algoId" in params:
            return self.algos.get(int(params["algoId"]))
        if "clientAlgoId" in params:
            return self.algos_by_cid.get(params["clientAlgoId"])
        raise bad(-1102, "Param 'clientAlgoId' or 'algoId' must be sent, but both were empty/null!")

    def get_algo(self, params: dict[str, str]) -> dict[str, Any]:
        algo = self._find_algo(params)
        if algo is None:
            raise bad(-2013, "Order does not exist.")
        return shapes.algo_rest(algo)

    def cancel_algo(self, params: dict[str, str]) -> dict[str, Any]:
        algo = self._find_algo(params)
        if algo is None or algo.status != "NEW":
            raise bad(-2011, "Unknown order sent.")
        self._end_algo(algo, "CANCELED")
        return {"algoId": algo.algo_id, "clientAlgoId": algo.client_algo_id, "code": "200", "msg": "success"}

    def open_algos(self, params: dict[str, str]) -> list[dict[str, Any]]:
        symbol = params.get("symbol")
        return [shapes.algo_rest(a) for a in self.algos.values() if a.status == "NEW" and symbol in (None, a.symbol)]

    def _end_algo(self, algo: AlgoOrder, status: str, reason: str = "") -> None:
        algo.status, algo.update_time = status, self.now()
        self.user_events.append(shapes.algo_update(algo, at=algo.update_time, reason=reason))

    def _expire_stale_algos(self, symbol: str) -> None:
        """Reduce-only conditional orders with nothing left to reduce are removed by the system."""
        for algo in list(self.algos.values()):
            if (
                algo.symbol == symbol
                and algo.status == "NEW"
                and algo.reduce_only
                and not self._reduces(symbol, algo.side)
            ):
                self._end_algo(algo, "EXPIRED", "Reduce Only reject")

    def _trigger(self, algo: AlgoOrder, price: Decimal) -> None:
        now = self.now()
        algo.status, algo.trigger_time, algo.update_time = "TRIGGERING", now, now
        self.user_events.append(shapes.algo_update(algo, at=now))
        # The triggered order gets its own client id: lookups by the algo's client id stay on the algo.
        order = self._create_order(
            algo.symbol,
            f"algo-{algo.algo_id}",
            algo.side,
            "MARKET",
            algo.order_type,
            algo.quantity,
            algo.reduce_only,
            algo.trigger_price,
        )
        self.user_events.pop()  # the NEW of the actual order comes after TRIGGERED, as on Binance
        algo.actual_order_id, algo.status = order.order_id, "TRIGGERED"
        self.user_events.append(shapes.algo_update(algo, at=now))
        self.user_events.append(shapes.order_trade_update(order, exec_type="NEW", at=now))
        self._execute_market(order, price)
        algo.fills = [(order.executed, order.avg_price)] if order.executed else []
        self._end_algo(algo, "FINISHED")
