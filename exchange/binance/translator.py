"""The user-data stream's events as the port's events: what the stream alone cannot say, kept here.

`EventTranslator` holds which client ids are conditional orders, which regular
order a triggered conditional order became, which cancels were ours, and which
trades were already reported (fills are deduplicated by symbol and trade id,
because a resync through REST and the stream may both report one; Binance
numbers trades per symbol). Every ACCOUNT_UPDATE position becomes a
`PositionChanged`; the fill of an order that is not ours (a liquidation
`autoclose-...`, an ADL `adl_autoclose`, a close on the website `web_...`) gives
that update its reason, whichever of the two Binance sends first.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import replace
from decimal import Decimal

from exchange.binance.user_events import (
    AccountUpdate,
    AlgoUpdate,
    OrderTradeUpdate,
    UserEvent,
    fill_from_update,
    order_from_algo_update,
    order_from_update,
)
from exchange.port import (
    ExchangeEvent,
    Fill,
    OrderState,
    OrderType,
    PositionChanged,
    PositionChangeReason,
)

_CONDITIONAL = (OrderType.STOP_MARKET.value, OrderType.TAKE_PROFIT_MARKET.value)
_SEEN_TRADES_KEPT = 100_000
ZERO = Decimal(0)
_OUTSIDE_MATCH_MS = 5_000  # an ACCOUNT_UPDATE this soon after a foreign fill of its symbol is that fill's


def outside_reason(client_order_id: str, execution_type: str = "", order_type: str = "") -> PositionChangeReason:
    """Why an order that is not ours changed a position, from what Binance calls it."""
    if client_order_id.startswith("adl_"):  # adl_autoclose
        return PositionChangeReason.AUTO_DELEVERAGE
    if client_order_id.startswith("autoclose-") or order_type == "LIQUIDATION":
        return PositionChangeReason.LIQUIDATION
    if client_order_id.startswith("settlement_"):
        return PositionChangeReason.SETTLEMENT
    if execution_type == "CALCULATED":  # the engine's own execution under an id not seen before
        return PositionChangeReason.LIQUIDATION
    return PositionChangeReason.OTHER_CLIENT


class EventTranslator:
    """Thread-safe: the stream thread translates while the caller's thread registers orders.

    `own_prefix`: client ids starting with it are ours even when this process did not place them (a stop
    placed before a restart); without it, only the orders placed through this translator are.
    """

    def __init__(self, own_prefix: str | None = None) -> None:
        self._own_prefix = own_prefix
        self._lock = threading.Lock()
        self._events: list[ExchangeEvent] = []
        self._algo_ids: set[str] = set()  # client ids of conditional orders we placed
        self._symbols: dict[str, str] = {}  # client id -> symbol, for every order we placed
        self._last: dict[str, OrderState] = {}  # client id -> latest state seen
        self._actual: dict[int, str] = {}  # regular order id of a triggered algo -> its client algo id
        self._pending: dict[int, list[Fill]] = {}  # fills of a triggered order seen before its ALGO_UPDATE
        self._canceled: set[str] = set()
        self._seen: set[tuple[str, int]] = set()  # (symbol, trade id): Binance numbers trades per symbol
        self._seen_order: deque[tuple[str, int]] = deque()
        self._filled: dict[str, Decimal] = {}  # client id -> quantity of its fills reported
        self._positions: dict[str, tuple[Decimal, int]] = {}  # symbol -> (amount, time) of its last ACCOUNT_UPDATE
        self._outside: dict[str, tuple[str, str, int]] = {}  # symbol -> (reason, client id, time): a foreign fill
        # whose ACCOUNT_UPDATE has not come yet

    # --- registration (caller's thread) -----------------------------------------------------------

    def register(self, state: OrderState) -> None:
        with self._lock:
            self._symbols[state.client_order_id] = state.symbol
            if state.type is not OrderType.MARKET:
                self._algo_ids.add(state.client_order_id)
            self._last.setdefault(state.client_order_id, state)

    def kind(self, client_order_id: str) -> str | None:
        """ "algo", "regular", or None when this process never placed it."""
        with self._lock:
            if client_order_id in self._algo_ids:
                return "algo"
            return "regular" if client_order_id in self._symbols else None

    def mark_canceling(self, client_order_id: str, canceling: bool = True) -> None:
        with self._lock:
            (self._canceled.add if canceling else self._canceled.discard)(client_order_id)

    def canceled_by_us(self, client_order_id: str) -> bool:
        with self._lock:
            return client_order_id in self._canceled

    def link_actual(self, actual_order_id: int, client_algo_id: str) -> None:
        with self._lock:
            self._actual[actual_order_id] = client_algo_id

    def client_id_for_order(self, order_id: int) -> str | None:
        with self._lock:
            if order_id in self._actual:
                return self._actual[order_id]
            return next(
                (
                    s.client_order_id
                    for s in self._last.values()
                    if s.exchange_order_id == order_id and s.type is OrderType.MARKET
                ),
                None,
            )

    def is_ours(self, client_order_id: str) -> bool:
        """Placed by us: through this translator, or under our client-id prefix."""
        with self._lock:
            if client_order_id in self._symbols or client_order_id in self._actual.values():
                return True
        return bool(self._own_prefix) and client_order_id.startswith(self._own_prefix or "")

    def open_tracked(self) -> list[OrderState]:
        """Orders we placed whose last known state is not final: what a resync must look up."""
        with self._lock:
            return [s for s in self._last.values() if not s.status.is_final]

    def tracked_symbols(self) -> set[str]:
        with self._lock:
            return set(self._symbols.values())

    # --- events ------------------------------------------------------------------------------------

    def push(self, events: list[ExchangeEvent]) -> None:
        """Queue events for `drain`, dropping fills already reported (by symbol and trade id)."""
        with self._lock:
            for event in events:
                if isinstance(event, Fill):
                    key = (event.symbol, event.trade_id)
                    if key in self._seen:
                        continue
                    self._remember_trade(key)
                    self._filled[event.client_order_id] = self._filled.get(event.client_order_id, ZERO) + event.quantity
                elif isinstance(event, OrderState):
                    self._last[event.client_order_id] = event
                self._events.append(event)

    def _remember_trade(self, key: tuple[str, int]) -> None:
        self._seen.add(key)
        self._seen_order.append(key)
        if len(self._seen_order) > _SEEN_TRADES_KEPT:
            self._seen.discard(self._seen_order.popleft())

    def seen_trade(self, symbol: str, trade_id: int) -> bool:
        with self._lock:
            return (symbol, trade_id) in self._seen

    def filled(self, client_order_id: str) -> Decimal:
        """The quantity of the order's fills reported so far (by the stream or a resync)."""
        with self._lock:
            return self._filled.get(client_order_id, ZERO)

    def drain(self) -> tuple[ExchangeEvent, ...]:
        with self._lock:
            events, self._events = tuple(self._events), []
            return events

    def pending(self) -> tuple[ExchangeEvent, ...]:
        """What `drain` would return, left queued."""
        with self._lock:
            return tuple(self._events)

    def translate(self, event: UserEvent) -> None:
        if isinstance(event, OrderTradeUpdate):
            self.push(self._from_order_update(event))
        elif isinstance(event, AlgoUpdate):
            self.push(self._from_algo_update(event))
        elif isinstance(event, AccountUpdate):
            self.push(self._from_account_update(event))

    def _from_account_update(self, u: AccountUpdate) -> list[ExchangeEvent]:
        """A PositionChanged per one-way position entry; with the reason of the foreign fill it follows."""
        out: list[ExchangeEvent] = []
        with self._lock:
            for p in u.positions:
                if p.position_side != "BOTH":
                    continue
                self._positions[p.symbol] = (p.quantity, u.transaction_time)
                reason, client_id = PositionChangeReason.ACCOUNT_UPDATE.value, ""
                outside = self._outside.get(p.symbol)
                if outside is not None and 0 <= u.transaction_time - outside[2] <= _OUTSIDE_MATCH_MS:
                    reason, client_id, _ = self._outside.pop(p.symbol)
                out.append(
                    PositionChanged(
                        symbol=p.symbol,
                        quantity=p.quantity,
                        reason=reason,
                        at=u.transaction_time,
                        client_order_id=client_id,
                    )
                )
        return out

    def _outside_fill(self, fill: Fill, reason: str) -> list[ExchangeEvent]:
        """A fill of an order not ours: its PositionChanged now if its ACCOUNT_UPDATE came first (same
        transaction time), else with that update when it comes."""
        with self._lock:
            known = self._positions.get(fill.symbol)
            if known is not None and known[1] == fill.at:
                change = PositionChanged(
                    symbol=fill.symbol,
                    quantity=known[0],
                    reason=reason,
                    at=fill.at,
                    client_order_id=fill.client_order_id,
                )
                return [change]
            self._outside[fill.symbol] = (reason, fill.client_order_id, fill.at)
            return []

    def _from_order_update(self, u: OrderTradeUpdate) -> list[ExchangeEvent]:
        with self._lock:
            algo_cid = self._actual.get(u.order_id)
            if algo_cid is None and u.client_order_id in self._algo_ids:
                algo_cid = u.client_order_id  # an exchange that reuses the algo's client id
        if algo_cid is not None:
            fill = fill_from_update(u, algo_cid)
            return [fill] if fill else []  # the algo's own state comes with ALGO_UPDATE FINISHED
        if u.original_type in _CONDITIONAL and u.order_type == OrderType.MARKET.value:
            # A triggered conditional order reported before its ALGO_UPDATE names it: hold its fill.
            fill = fill_from_update(u)
            if fill is not None:
                with self._lock:
                    self._pending.setdefault(u.order_id, []).append(fill)
            return []
        out: list[ExchangeEvent] = []
        fill = fill_from_update(u)
        if fill is not None:
            out.append(fill)
            if not self.is_ours(u.client_order_id):
                reason = outside_reason(u.client_order_id, u.execution_type, u.order_type)
                out.extend(self._outside_fill(fill, reason.value))
        state = order_from_update(u)
        if state is not None:
            out.append(state)
        return out

    def _from_algo_update(self, u: AlgoUpdate) -> list[ExchangeEvent]:
        out: list[ExchangeEvent] = []
        if u.actual_order_id is not None:
            with self._lock:
                self._actual[u.actual_order_id] = u.client_algo_id
                pending = self._pending.pop(u.actual_order_id, [])
            out.extend(replace(f, client_order_id=u.client_algo_id) for f in pending)
        state = order_from_algo_update(u, canceled_by_us=self.canceled_by_us(u.client_algo_id))
        if state is not None:
            out.append(state)
        return out
