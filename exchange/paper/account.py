"""The paper account's money and positions: the wallet balance, and per symbol a signed quantity and entry price.

There is no margin or liquidation model: the account never refuses a fill for lack of margin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from exchange.paper.rules import ZERO, apply_fill, unrealized_pnl
from exchange.port import ExchangePosition, OrderSide


class PaperAccount:
    def __init__(self, wallet: Decimal, positions: Mapping[str, tuple[Decimal, Decimal]] | None = None) -> None:
        self.wallet = wallet
        self._positions: dict[str, tuple[Decimal, Decimal]] = dict(positions or {})  # never a flat one

    def quantity(self, symbol: str) -> Decimal:
        """The signed quantity of `symbol`'s position; 0 when flat."""
        return self._positions.get(symbol, (ZERO, ZERO))[0]

    def settle(self, symbol: str, side: OrderSide, quantity: Decimal, price: Decimal, fee: Decimal) -> Decimal:
        """A fill: the position moves, the wallet takes its realised profit less the fee; returns what it realised."""
        position_qty, entry = self._positions.get(symbol, (ZERO, ZERO))
        new_qty, new_entry, realized = apply_fill(position_qty, entry, side, quantity, price)
        self.wallet += realized - fee
        if new_qty == 0:
            self._positions.pop(symbol, None)
        else:
            self._positions[symbol] = (new_qty, new_entry)
        return realized

    def symbols(self) -> list[str]:
        """The symbols with a position, sorted."""
        return sorted(self._positions)

    def position(self, symbol: str, mark: Decimal | None) -> ExchangePosition:
        quantity, entry = self._positions[symbol]
        pnl = ZERO if mark is None else unrealized_pnl(quantity, entry, mark)
        return ExchangePosition(
            symbol=symbol, quantity=quantity, entry_price=entry, unrealized_pnl=pnl, mark_price=mark
        )

    def unrealized_pnl(self, mark: Callable[[str], Decimal | None]) -> Decimal:
        """The open positions' unrealised PnL at `mark(symbol)` (none for a symbol without a price)."""
        total = ZERO
        for symbol, (quantity, entry) in self._positions.items():
            price = mark(symbol)
            if price is not None:
                total += unrealized_pnl(quantity, entry, price)
        return total

    def positions(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Symbol -> (signed quantity, entry price), as `PaperState` saves them."""
        return dict(self._positions)
