"""The fake exchange's account and matching engine: no I/O, one lock, Binance's rules.

One USDT-margined account in one-way mode. Market orders fill at once at the
current price of the symbol (set by the test). Conditional orders
(STOP_MARKET / TAKE_PROFIT_MARKET) live in the "algo service" until the price
path crosses their trigger; then a market order is created and filled, as on
Binance since 2025-12. When one price move could trigger both a stop and a
take-profit, the stop fills first: the worse outcome, as the paper exchange does.

Every request's effects are produced as user-stream / market-stream event dicts
queued here; the server drains and broadcasts them.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from scripts.fake_binance import shapes
from scripts.fake_binance.algos import CONDITIONAL, AlgoBook, bad, decimals
from scripts.fake_binance.errors import ApiError
from scripts.fake_binance.fills import FillPlan, select_trades, trade_price
from scripts.fake_binance.market import PricePath
from scripts.fake_binance.shapes import ZERO, AlgoOrder, Order


class Engine(PricePath, AlgoBook):
    def __init__(
        self,
        exchange_info: dict[str, Any],
        *,
        clock: Callable[[], int],
        balance: Decimal = Decimal("10000"),
        fee_rate: Decimal = Decimal("0.0004"),
        default_leverage: int = 20,
    ) -> None:
        self.lock = threading.RLock()
        self.exchange_info = exchange_info
        self._clock = clock
        self.filters: dict[str, dict[str, Decimal]] = {}
        for s in exchange_info["symbols"]:
            f = {x["filterType"]: x for x in s["filters"]}
            self.filters[s["symbol"]] = {
                "tick": Decimal(f["PRICE_FILTER"]["tickSize"]),
                "step": Decimal(f["LOT_SIZE"]["stepSize"]),
                "min_qty": Decimal(f["LOT_SIZE"]["minQty"]),
                "min_notional": Decimal(f["MIN_NOTIONAL"]["notional"]),
            }
        self.wallet = Decimal(balance)
        self.fee_rate = fee_rate
        self.default_leverage = default_leverage
        self.leverage: dict[str, int] = {}
        self.dual_side = False
        self.prices: dict[str, Decimal] = {}
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (signed qty, entry price)
        self.orders: dict[int, Order] = {}
        self.orders_by_cid: dict[str, Order] = {}
        self.algos: dict[int, AlgoOrder] = {}
        self.algos_by_cid: dict[str, AlgoOrder] = {}
        self.trades: list[dict[str, Any]] = []
        self.candles: dict[tuple[str, str], list[list[Any]]] = {}
        self.cid_counts: Counter[str] = Counter()
        self.user_events: list[dict[str, Any]] = []
        self.market_events: list[tuple[str, dict[str, Any]]] = []  # (stream name, payload)
        self.fill_plans: list[FillPlan] = []  # set by faults: how the next market orders fill, one plan each
        self._ids = itertools.count(4_000_000_000)
        self._algo_ids = itertools.count(1_000_000_033_000_000)
        self._trade_ids: dict[str, itertools.count[int]] = {}  # per symbol, as Binance numbers trades
        self.fee_asset, self.fee_asset_price = "USDT", Decimal(1)  # set by faults: fees paid in BNB at its price
        self._auto_ids = itertools.count(1)

    def now(self) -> int:
        return self._clock()

    def change_filters(self, symbol: str, **filters: Decimal) -> None:
        """New trading rules for `symbol` (keys of `self.filters[symbol]`), in exchangeInfo too."""
        self.filters[symbol].update(filters)
        f = self.filters[symbol]
        info = next(s for s in self.exchange_info["symbols"] if s["symbol"] == symbol)
        info["pricePrecision"], info["quantityPrecision"] = decimals(f["tick"]), decimals(f["step"])
        for entry in info["filters"]:
            kind = entry["filterType"]
            if kind == "PRICE_FILTER":
                entry["tickSize"] = shapes.fmt(f["tick"])
            elif kind in ("LOT_SIZE", "MARKET_LOT_SIZE"):
                entry["stepSize"], entry["minQty"] = shapes.fmt(f["step"]), shapes.fmt(f["min_qty"])
            elif kind == "MIN_NOTIONAL":
                entry["notional"] = shapes.fmt(f["min_notional"])

    # --- account queries -------------------------------------------------------------------

    def upnl(self, symbol: str) -> Decimal:
        qty, entry = self.positions.get(symbol, (ZERO, ZERO))
        price = self.prices.get(symbol, entry)
        return (price - entry) * qty

    def total_upnl(self) -> Decimal:
        return sum((self.upnl(s) for s in self.positions), ZERO)

    def _used_margin(self) -> Decimal:
        return sum(
            (
                abs(q) * self.prices.get(s, e) / self.leverage.get(s, self.default_leverage)
                for s, (q, e) in self.positions.items()
            ),
            ZERO,
        )

    def available(self) -> Decimal:
        return self.wallet + self.total_upnl() - self._used_margin()

    # --- validation helpers ------------------------------------------------------------------

    def _symbol(self, params: dict[str, str]) -> str:
        symbol = params.get("symbol")
        if not symbol:
            raise bad(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if symbol not in self.filters:
            raise bad(-1121, "Invalid symbol.")
        return symbol

    @staticmethod
    def _decimal(params: dict[str, str], name: str) -> Decimal:
        try:
            value = Decimal(params[name])
        except (KeyError, InvalidOperation):
            raise bad(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.") from None
        return value

    @staticmethod
    def _reduce_only(params: dict[str, str]) -> bool:
        value = params.get("reduceOnly", "false")
        if value not in ("true", "false"):  # Binance is strict: "True" is refused
            raise bad(-1130, "Data sent for parameter 'reduceOnly' is not valid.")
        return value == "true"

    def _check_quantity(self, symbol: str, qty: Decimal) -> None:
        f = self.filters[symbol]
        if qty <= 0:
            raise bad(-4003, "Quantity less than or equal to zero.")
        if decimals(qty) > decimals(f["step"]):
            raise bad(-1111, "Precision is over the maximum defined for this asset.")
        if qty % f["step"] != 0:
            raise bad(-4023, "Quantity not increased by step size.")
        if qty < f["min_qty"]:
            raise bad(-4004, "Quantity less than min quantity.")

    def _check_price(self, symbol: str, price: Decimal) -> None:
        tick = self.filters[symbol]["tick"]
        if price <= 0:
            raise bad(-4014, "Price not increased by tick size.")
        if decimals(price) > decimals(tick):
            raise bad(-1111, "Precision is over the maximum defined for this asset.")
        if price % tick != 0:
            raise bad(-4014, "Price not increased by tick size.")

    def _reduces(self, symbol: str, side: str) -> bool:
        qty = self.positions.get(symbol, (ZERO, ZERO))[0]
        return (qty > 0 and side == "SELL") or (qty < 0 and side == "BUY")

    def _price(self, symbol: str) -> Decimal:
        price = self.prices.get(symbol)
        if price is None:
            raise ApiError(503, -1001, "Internal error; unable to process your request. Please try again.")
        return price

    # --- regular orders --------------------------------------------------------------------------

    def new_order(self, params: dict[str, str]) -> dict[str, Any]:
        cid = params.get("newClientOrderId") or f"fake-{next(self._auto_ids)}"
        self.cid_counts[cid] += 1
        symbol = self._symbol(params)
        order_type = params.get("type", "")
        if order_type in CONDITIONAL or order_type.startswith(("STOP", "TAKE_PROFIT", "TRAILING")):
            raise bad(
                -4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead."
            )
        if order_type != "MARKET":
            raise bad(-1116, "Invalid orderType.")
        side = params.get("side", "")
        if side not in ("BUY", "SELL"):
            raise bad(-1117, "Invalid side.")
        if cid in self.orders_by_cid:
            raise bad(-4116, "ClientOrderId is duplicated.")
        qty = self._decimal(params, "quantity")
        self._check_quantity(symbol, qty)
        reduce_only = self._reduce_only(params)
        price = self._price(symbol)
        if reduce_only and not self._reduces(symbol, side):
            raise bad(-2022, "ReduceOnly Order is rejected.")
        if not reduce_only:
            min_notional = self.filters[symbol]["min_notional"]
            if qty * price < min_notional:
                raise bad(
                    -4164,
                    f"Order's notional must be no smaller than {shapes.fmt(min_notional)} "
                    "(unless you choose reduce only).",
                )
            leverage = self.leverage.get(symbol, self.default_leverage)
            if not self._reduces(symbol, side) and qty * price / leverage > self.available():
                raise bad(-2019, "Margin is insufficient.")
        order = self._create_order(symbol, cid, side, "MARKET", "MARKET", qty, reduce_only, None)
        self._execute_market(order, price)
        if params.get("newOrderRespType") == "RESULT":
            return shapes.order_rest(order, with_cum_qty=True)
        # ACK (the default): the response is written before the fill, as Binance's is.
        return shapes.order_rest(replace(order, status="NEW", executed=ZERO, cum_quote=ZERO), with_cum_qty=True)

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
    ) -> Order:
        now = self.now()
        order = Order(
            order_id=next(self._ids),
            client_id=cid,
            symbol=symbol,
            side=side,
            type=type_,
            orig_type=orig_type,
            quantity=qty,
            reduce_only=reduce_only,
            time=now,
            update_time=now,
            stop_price=stop_price,
        )
        self.orders[order.order_id] = order
        self.orders_by_cid[cid] = order
        self.user_events.append(shapes.order_trade_update(order, exec_type="NEW", at=now))
        return order

    def _execute_market(self, order: Order, price: Decimal, exec_type: str = "TRADE") -> None:
        qty = order.quantity
        if order.reduce_only:
            position = self.positions.get(order.symbol, (ZERO, ZERO))[0]
            qty = min(qty, abs(position)) if self._reduces(order.symbol, order.side) else ZERO
        # A liquidation (CALCULATED) is one fill; any other market order takes the next fill plan, if any.
        plan = self.fill_plans.pop(0) if self.fill_plans and exec_type == "TRADE" else None
        parts = plan.parts(qty, self.filters[order.symbol]["step"]) if plan else [(qty, 0)] if qty > 0 else []
        expire = plan is not None and plan.expire_remainder and len(parts) > 1
        if expire:
            parts = parts[:1]
        tick = self.filters[order.symbol]["tick"]
        for i, (part, ticks) in enumerate(parts):
            last = i == len(parts) - 1
            self._fill(order, part, trade_price(price, ticks, tick, order.side), exec_type, final=last and not expire)
        if order.executed < order.quantity and (expire or qty == 0 or order.reduce_only):
            order.status, order.update_time = "EXPIRED", self.now()
            self.user_events.append(shapes.order_trade_update(order, exec_type="EXPIRED", at=order.update_time))
        self._expire_stale_algos(order.symbol)

    def _fill(self, order: Order, qty: Decimal, price: Decimal, exec_type: str, *, final: bool) -> None:
        now = self.now()
        realized = self._apply_position(order.symbol, order.side, qty, price)
        fee = (qty * price * self.fee_rate / self.fee_asset_price).quantize(Decimal("0.00000001"))
        self.wallet += realized - (fee if self.fee_asset == "USDT" else ZERO)  # a BNB fee leaves USDT alone
        order.executed += qty
        order.cum_quote += qty * price
        order.status = "FILLED" if final or order.executed >= order.quantity else "PARTIALLY_FILLED"
        order.update_time = now
        trade_id = next(self._trade_ids.setdefault(order.symbol, itertools.count(200_000_000)))
        self.trades.append(
            {
                "symbol": order.symbol,
                "id": trade_id,
                "orderId": order.order_id,
                "side": order.side,
                "price": shapes.fmt(price),
                "qty": shapes.fmt(qty),
                "realizedPnl": shapes.fmt(realized, 8),
                "marginAsset": "USDT",
                "quoteQty": shapes.fmt(qty * price),
                "commission": shapes.fmt(fee, 8),
                "commissionAsset": self.fee_asset,
                "time": now,
                "positionSide": "BOTH",
                "buyer": order.side == "BUY",
                "maker": False,
            }
        )
        self.user_events.append(
            shapes.order_trade_update(
                order,
                exec_type=exec_type,
                at=now,
                last_qty=qty,
                last_price=price,
                fee=fee,
                fee_asset=self.fee_asset,
                trade_id=trade_id,
                realized=realized,
            )
        )
        self.user_events.append(self._account_update(order.symbol, realized, at=now))  # the trade's own time

    def _apply_position(self, symbol: str, side: str, qty: Decimal, price: Decimal) -> Decimal:
        signed = qty if side == "BUY" else -qty
        pos, entry = self.positions.get(symbol, (ZERO, ZERO))
        realized = ZERO
        if pos == 0 or (pos > 0) == (signed > 0):
            new = pos + signed
            entry = (abs(pos) * entry + qty * price) / abs(new)
        else:
            closed = min(abs(pos), qty)
            realized = (price - entry) * closed * (1 if pos > 0 else -1)
            new = pos + signed
            if new != 0 and (new > 0) != (pos > 0):
                entry = price  # flipped: the remainder opened at this price
        if new == 0:
            self.positions.pop(symbol, None)
        else:
            self.positions[symbol] = (new, entry)
        return realized

    def _account_update(self, symbol: str, realized: Decimal, *, at: int, reason: str = "ORDER") -> dict[str, Any]:
        qty, entry = self.positions.get(symbol, (ZERO, ZERO))
        return shapes.account_update(
            at=at,
            reason=reason,
            wallet=self.wallet,
            positions=[(symbol, qty, entry, realized, self.upnl(symbol))],
        )

    def _find_order(self, params: dict[str, str]) -> Order | None:
        if "orderId" in params:
            order = self.orders.get(int(params["orderId"]))
        elif "origClientOrderId" in params:
            order = self.orders_by_cid.get(params["origClientOrderId"])
        else:
            raise bad(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        return order if order is not None and order.symbol == params.get("symbol") else None

    def get_order(self, params: dict[str, str]) -> dict[str, Any]:
        self._symbol(params)
        order = self._find_order(params)
        if order is None:
            raise bad(-2013, "Order does not exist.")
        return shapes.order_rest(order)

    def cancel_order(self, params: dict[str, str]) -> dict[str, Any]:
        self._symbol(params)
        order = self._find_order(params)
        if order is None or order.status not in ("NEW", "PARTIALLY_FILLED"):
            raise bad(-2011, "Unknown order sent.")
        order.status, order.update_time = "CANCELED", self.now()
        self.user_events.append(shapes.order_trade_update(order, exec_type="CANCELED", at=order.update_time))
        return shapes.order_rest(order, with_cum_qty=True)

    def open_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        symbol = params.get("symbol")
        return [
            shapes.order_rest(o)
            for o in self.orders.values()
            if o.status in ("NEW", "PARTIALLY_FILLED") and symbol in (None, o.symbol)
        ]

    def user_trades(self, params: dict[str, str]) -> list[dict[str, Any]]:
        symbol = self._symbol(params)
        return select_trades([t for t in self.trades if t["symbol"] == symbol], params, self.now())
