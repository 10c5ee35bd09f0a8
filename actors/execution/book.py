"""The execution actor's bookkeeping of live positions: ids, quantities, PnL. Pure (no I/O)."""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from exchange.port import OrderSide
from actors.messages import PositionView, Side, SymbolRecord
from config.profiles import ExitMode
from state_machines import PositionModel

ZERO = Decimal(0)


class Purpose:
    ENTRY = "e"
    STOP = "sl"
    TAKE_PROFIT = "tp"
    PARTIAL = "pt"
    EXIT = "x"


def position_id_for(signal_id: str) -> str:
    """Deterministic: the same signal always names the same position (a re-delivered signal is a no-op)."""
    return "p-" + hashlib.sha1(signal_id.encode()).hexdigest()[:12]


def client_order_id(prefix: str, purpose: str, position_id: str, number: int = 0) -> str:
    """Deterministic and within Binance's 36 characters, e.g. `qt-sl-3fa2b1c4d5e6-2`."""
    return f"{prefix}-{purpose}-{position_id[2:]}-{number}"


def parse_client_order_id(prefix: str, client_id: str) -> tuple[str, str, int] | None:
    """(purpose, position_id, number) of one of our ids, or None for someone else's."""
    parts = client_id.split("-")
    if len(parts) != 4 or parts[0] != prefix or not parts[3].isdigit():
        return None
    return parts[1], "p-" + parts[2], int(parts[3])


def entry_side(side: Side) -> OrderSide:
    return OrderSide.BUY if side is Side.LONG else OrderSide.SELL


def exit_side(side: Side) -> OrderSide:
    return OrderSide.SELL if side is Side.LONG else OrderSide.BUY


@dataclass(slots=True)
class LivePosition:
    """A position the execution actor is responsible for, beside its state-machine model."""

    model: PositionModel
    symbol: str
    side: Side
    quantity: Decimal  # requested entry quantity
    exit_mode: ExitMode
    stop_distance: Decimal
    filled: Decimal = ZERO  # entry quantity filled
    closed: Decimal = ZERO  # quantity closed by exits
    entry_price: Decimal | None = None
    entry_cost: Decimal = ZERO  # sum of fill qty x price, for the average entry
    stop_price: Decimal | None = None
    take_profit_price: Decimal | None = None
    partial_price: Decimal | None = None
    partial_quantity: Decimal = ZERO  # what the partial take-profit closes, kept so a restart can re-place it
    risk_per_unit: Decimal = ZERO
    trailing_pct: float = 0.0
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    exit_cost: Decimal = ZERO
    orders: dict[str, str] = field(default_factory=dict)  # purpose -> live client order id
    numbers: dict[str, int] = field(default_factory=dict)  # purpose -> last number used in a client order id
    stop_moves: int = 0  # trailing moves: a stop that fills after one is a "trailing stop"
    close_reason: str = ""
    applied: dict[str, Decimal] = field(default_factory=dict)  # client order id -> quantity of its fills applied here
    trades: set[str] = field(default_factory=set)  # trade ids applied: a fill told twice is applied once

    @property
    def id(self) -> str:
        return self.model.entity_id

    @property
    def state(self) -> str:
        return self.model.state  # type: ignore[no-any-return]

    @property
    def open_quantity(self) -> Decimal:
        return self.filled - self.closed

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

    def view(self) -> PositionView:
        return PositionView(
            position_id=self.id, symbol=self.symbol, side=self.side, state=self.state,
            quantity=self.open_quantity if self.filled else self.quantity,
            entry_price=self.entry_price or ZERO, stop_price=self.stop_price, exit_mode=self.exit_mode,
            risk_at_stop=self.risk_at_stop(),
        )

    def details(self) -> str:
        """What a restart needs beyond the row's columns."""
        return json.dumps({
            "stop_distance": str(self.stop_distance), "partial_price": _text(self.partial_price),
            "partial_quantity": str(self.partial_quantity),
            "risk_per_unit": str(self.risk_per_unit), "trailing_pct": self.trailing_pct,
            "orders": self.orders, "numbers": self.numbers, "stop_moves": self.stop_moves, "closed": str(self.closed),
            "entry_cost": str(self.entry_cost), "exit_cost": str(self.exit_cost),
        }, sort_keys=True)

    def restore_details(self, raw: str) -> None:
        data: dict[str, Any] = json.loads(raw or "{}")
        self.stop_distance = Decimal(data.get("stop_distance", self.stop_distance))
        self.partial_price = _decimal(data.get("partial_price"))
        self.partial_quantity = Decimal(data.get("partial_quantity", "0"))
        self.risk_per_unit = Decimal(data.get("risk_per_unit", "0"))
        self.trailing_pct = float(data.get("trailing_pct", 0.0))
        self.orders = dict(data.get("orders", {}))
        self.numbers = {k: int(v) for k, v in data.get("numbers", {}).items()}
        self.stop_moves = int(data.get("stop_moves", 0))
        self.closed = Decimal(data.get("closed", "0"))
        self.entry_cost = Decimal(data.get("entry_cost", "0"))
        self.exit_cost = Decimal(data.get("exit_cost", "0"))


PERFORMANCE_WINDOW_MS = 7 * 86_400_000  # symbol performance looks at the last week of closes...
PERFORMANCE_MAX_TRADES = 50  # ...and at most this many per symbol, so a disallowed symbol can recover


@dataclass(slots=True)
class TradeRecords:
    """Recent closed trades per symbol (for the policy's symbol performance) and the losing streak."""

    recent: dict[str, deque[tuple[int, Decimal, float]]] = field(default_factory=dict)
    losing_streak: int = 0
    _cached: tuple[int, tuple[SymbolRecord, ...]] | None = None  # (valid until, records)

    def add(self, symbol: str, net_pnl: Decimal, r_multiple: float, at: int) -> None:
        self.recent.setdefault(symbol, deque(maxlen=PERFORMANCE_MAX_TRADES)).append((at, net_pnl, r_multiple))
        self.losing_streak = 0 if net_pnl > 0 else self.losing_streak + 1
        self._cached = None

    def records(self, now: int) -> tuple[SymbolRecord, ...]:
        """Recomputed only when a trade closes or the oldest one leaves the window."""
        if self._cached is not None and now < self._cached[0]:
            return self._cached[1]
        found = []
        oldest = [t[0] for trades in self.recent.values() for t in trades if t[0] >= now - PERFORMANCE_WINDOW_MS]
        for symbol in sorted(self.recent):
            trades = [t for t in self.recent[symbol] if t[0] >= now - PERFORMANCE_WINDOW_MS]
            if trades:
                found.append(SymbolRecord(
                    symbol=symbol, closed_trades=len(trades), wins=sum(1 for t in trades if t[1] > 0),
                    sum_r=sum(t[2] for t in trades), pnl=sum((t[1] for t in trades), ZERO)))
        valid_until = min(oldest) + PERFORMANCE_WINDOW_MS + 1 if oldest else 2**62
        self._cached = (valid_until, tuple(found))
        return self._cached[1]


def r_multiple(position: LivePosition, net_pnl: Decimal) -> float:
    risk = position.risk_per_unit * position.filled
    return float(net_pnl / risk) if risk > 0 else 0.0


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
