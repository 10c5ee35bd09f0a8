"""The execution engine's book of live positions: quantities, prices, PnL, and which client order id is whose.
Pure (no I/O)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from actors.execution.ids import Purpose, client_order_id, entry_client_id
from actors.messages import PositionView, Side, SymbolRecord
from config.profiles import ExitMode
from exchange.port import OrderRequest, OrderSide, OrderType
from persistence.position_details import PositionDetails
from state_machines import PositionModel, PositionState

ZERO = Decimal(0)


def entry_side(side: Side) -> OrderSide:
    return OrderSide.BUY if side is Side.LONG else OrderSide.SELL


def exit_side(side: Side) -> OrderSide:
    return OrderSide.SELL if side is Side.LONG else OrderSide.BUY


@dataclass(slots=True)
class LivePosition:
    """A position the execution engine is responsible for, beside its state-machine model."""

    model: PositionModel
    symbol: str
    side: Side
    quantity: Decimal  # requested entry quantity
    exit_mode: ExitMode
    stop_distance: Decimal
    decision_price: Decimal | None = None  # the price the entry was sized at: its slippage is measured against it
    filled: Decimal = ZERO  # entry quantity filled
    closed: Decimal = ZERO  # quantity closed by exits
    entry_price: Decimal | None = None
    entry_cost: Decimal = ZERO  # sum of fill qty x price, for the average entry
    stop_price: Decimal | None = None
    take_profit_price: Decimal | None = None
    partial_price: Decimal | None = None
    partial_quantity: Decimal = ZERO  # what the partial take-profit closes, kept so a restart can re-place it
    partial_taken: bool = False  # that part was taken at market (its price passed before it rested): never again
    risk_per_unit: Decimal = ZERO
    trailing_pct: float = 0.0
    trailing_start: Decimal = ZERO  # distance in favour from the entry where trailing starts
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    exit_cost: Decimal = ZERO
    orders: dict[str, str] = field(default_factory=dict)  # purpose -> live client order id
    numbers: dict[str, int] = field(default_factory=dict)  # purpose -> last number used in a client order id
    stop_moves: int = 0  # trailing moves: a stop that fills after one is a "trailing stop"
    close_reason: str = ""
    submitted_at: int = 0  # when the entry was sent (this process); a fill not heard by a deadline is looked up
    created_at: int = 0  # when its row was written, just before the entry was sent (as loaded at a start)
    applied: dict[str, Decimal] = field(default_factory=dict)  # client order id -> quantity of its fills applied here
    trades: set[str] = field(default_factory=set)  # trade ids applied: a fill told twice is applied once

    @property
    def id(self) -> str:
        return self.model.entity_id

    @property
    def state(self) -> str:
        return self.model.state

    @property
    def open_quantity(self) -> Decimal:
        return self.filled - self.closed

    @property
    def partial_due(self) -> bool:
        """The partial take-profit is still to rest: the position is whole (open) and that part was not taken at
        market already."""
        return self.state == PositionState.OPEN and not self.partial_taken

    def add_entry_fill(self, quantity: Decimal, price: Decimal, fee: Decimal) -> None:
        self.filled += quantity
        self.entry_cost += quantity * price
        self.entry_price = self.entry_cost / self.filled
        self.fees += fee

    def add_exit_fill(self, quantity: Decimal, price: Decimal, fee: Decimal, pnl: Decimal) -> None:
        self.closed += quantity
        self.exit_cost += quantity * price
        self.fees += fee
        self.realized_pnl += pnl

    @property
    def exit_price(self) -> Decimal | None:
        return self.exit_cost / self.closed if self.closed > 0 else None

    def risk_at_stop(self) -> Decimal:
        if self.entry_price is None or self.stop_price is None:
            return self.quantity * self.stop_distance
        loss = (self.entry_price - self.stop_price) * self.side.sign * self.open_quantity
        return max(loss, ZERO)

    def r_multiple(self, net_pnl: Decimal) -> float:
        return self.details_view().r_multiple(net_pnl, self.filled)

    def view(self) -> PositionView:
        return PositionView(
            position_id=self.id,
            symbol=self.symbol,
            side=self.side,
            state=self.state,
            quantity=self.open_quantity if self.filled else self.quantity,
            entry_price=self.entry_price or ZERO,
            stop_price=self.stop_price,
            exit_mode=self.exit_mode,
            risk_at_stop=self.risk_at_stop(),
        )

    def next_number(self, purpose: str) -> int:
        """Each purpose counts its own orders: a client order id is never used twice, across restarts too."""
        number = self.numbers.get(purpose, -1) + 1
        self.numbers[purpose] = number
        return number

    def order_request(
        self, prefix: str, purpose: str, order_type: OrderType, quantity: Decimal, trigger: Decimal | None = None
    ) -> OrderRequest:
        """A reduce-only order closing `quantity` of the position, under the purpose's next client order id."""
        return OrderRequest(
            client_order_id=client_order_id(prefix, purpose, self.id, self.next_number(purpose)),
            symbol=self.symbol,
            side=exit_side(self.side),
            type=order_type,
            quantity=quantity,
            trigger_price=trigger,
            reduce_only=True,
        )

    def details_view(self) -> PositionDetails:
        """What a restart needs beyond the row's columns (the `positions.details` column)."""
        return PositionDetails(
            stop_distance=self.stop_distance,
            partial_price=self.partial_price,
            partial_quantity=self.partial_quantity,
            partial_taken=self.partial_taken,
            risk_per_unit=self.risk_per_unit,
            trailing_pct=self.trailing_pct,
            trailing_start=self.trailing_start,
            orders=dict(self.orders),
            numbers=dict(self.numbers),
            stop_moves=self.stop_moves,
            closed=self.closed,
            entry_cost=self.entry_cost,
            exit_cost=self.exit_cost,
            decision_price=self.decision_price,
        )

    def details(self) -> str:
        return self.details_view().to_json()

    def restore_details(self, details: PositionDetails) -> None:
        self.stop_distance = details.stop_distance
        self.partial_price = details.partial_price
        self.partial_quantity = details.partial_quantity
        self.partial_taken = details.partial_taken
        self.risk_per_unit = details.risk_per_unit
        self.trailing_pct = details.trailing_pct
        self.trailing_start = details.trailing_start
        self.orders = dict(details.orders)
        self.numbers = dict(details.numbers)
        self.stop_moves = details.stop_moves
        self.closed = details.closed
        self.entry_cost = details.entry_cost
        self.exit_cost = details.exit_cost
        self.decision_price = details.decision_price


class Book:
    """The live positions and the index of every client order id of theirs (purpose included)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.live: dict[str, LivePosition] = {}
        self._by_client_id: dict[str, tuple[LivePosition, str]] = {}
        self._cancelled: dict[str, tuple[LivePosition, int]] = {}  # entry client id -> (position, remembered until)

    def __iter__(self) -> Iterator[LivePosition]:
        return iter(self.live.values())

    def get(self, position_id: str) -> LivePosition | None:
        return self.live.get(position_id)

    def holds(self, position: LivePosition) -> bool:
        return position.id in self.live

    def add(self, position: LivePosition) -> None:
        self.live[position.id] = position
        self._by_client_id[entry_client_id(self.prefix, position.id)] = (position, Purpose.ENTRY)
        for purpose, client_id in position.orders.items():
            self._by_client_id[client_id] = (position, purpose)

    def index(self, position: LivePosition, purpose: str, client_id: str) -> None:
        """`client_id` is now the position's order for `purpose` (the entry's id is derived, not kept)."""
        if purpose != Purpose.ENTRY:
            position.orders[purpose] = client_id
        self._by_client_id[client_id] = (position, purpose)

    def owner(self, client_id: str) -> tuple[LivePosition, str] | None:
        """The live position an order belongs to, with the order's purpose."""
        return self._by_client_id.get(client_id)

    def remove(self, position: LivePosition) -> None:
        """Forget a position that reached a final state, and every id of its orders."""
        for client_id in [cid for cid, (p, _) in self._by_client_id.items() if p is position]:
            del self._by_client_id[client_id]
        self.live.pop(position.id, None)

    def remember_cancelled(self, position: LivePosition, until: int) -> None:
        """An entry written off as never placed may still fill (an exchange can register a request that timed
        out late): its fill, until `until`, reopens it (`cancelled -> open`)."""
        self._cancelled[entry_client_id(self.prefix, position.id)] = (position, until)

    def revive(self, client_id: str, now: int) -> LivePosition | None:
        """The cancelled entry this client id names, taken back into the book; None if there is none (any more)."""
        self._cancelled = {cid: entry for cid, entry in self._cancelled.items() if entry[1] >= now}
        found = self._cancelled.pop(client_id, None)
        if found is None:
            return None
        self.add(found[0])
        return found[0]


PERFORMANCE_WINDOW_MS = 7 * 86_400_000  # symbol performance looks at the last week of closes...
PERFORMANCE_MAX_TRADES = 50  # ...and at most this many per symbol, so a disallowed symbol can recover


@dataclass(slots=True)
class TradeRecords:
    """Recent closed trades per symbol (for the policy's symbol performance) and the losing streak."""

    recent: dict[str, deque[tuple[int, Decimal, float]]] = field(default_factory=dict)
    losing_streak: int = 0
    # Per symbol: (valid until, its record or None when no trade is in the window); dropped when one of its trades
    # closes, recomputed when the oldest counted leaves the window.
    _by_symbol: dict[str, tuple[int, SymbolRecord | None]] = field(default_factory=dict)
    _cached: tuple[int, tuple[SymbolRecord, ...]] | None = None  # (valid until, records): every symbol's, together

    def add(self, symbol: str, net_pnl: Decimal, r_multiple: float, at: int) -> None:
        self.recent.setdefault(symbol, deque(maxlen=PERFORMANCE_MAX_TRADES)).append((at, net_pnl, r_multiple))
        self.losing_streak = 0 if net_pnl > 0 else self.losing_streak + 1
        self._by_symbol.pop(symbol, None)
        self._cached = None

    def records(self, now: int) -> tuple[SymbolRecord, ...]:
        """Asked every step: recomputed only for a symbol one of whose trades closed or left the window since."""
        if self._cached is not None and now < self._cached[0]:
            return self._cached[1]
        found = []
        valid_until = 2**62
        for symbol in sorted(self.recent):
            known = self._by_symbol.get(symbol)
            if known is None or now >= known[0]:
                known = self._by_symbol[symbol] = self._symbol_record(symbol, now)
            valid_until = min(valid_until, known[0])
            if known[1] is not None:
                found.append(known[1])
        self._cached = (valid_until, tuple(found))
        return self._cached[1]

    def _symbol_record(self, symbol: str, now: int) -> tuple[int, SymbolRecord | None]:
        trades = [t for t in self.recent[symbol] if t[0] >= now - PERFORMANCE_WINDOW_MS]
        if not trades:
            return 2**62, None
        record = SymbolRecord(
            symbol=symbol,
            closed_trades=len(trades),
            wins=sum(1 for t in trades if t[1] > 0),
            sum_r=sum(t[2] for t in trades),
            pnl=sum((t[1] for t in trades), ZERO),
        )
        return min(t[0] for t in trades) + PERFORMANCE_WINDOW_MS + 1, record
