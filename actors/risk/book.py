"""The account as one step's risk decisions see it: the positions open now, then each entry accepted so far. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from actors.messages import MarketSnapshot, OrderIntent, PositionView, Side


@dataclass(slots=True)
class OpenBook:
    """What is open for the next decision of the step: exposures, symbols held, gross notional."""

    # Exposure is the open risk: what each position loses if its stop fills (DESIGN.md's caps are
    # fractions of equity that only make sense against risk, not notional, at 1-2% risk per trade).
    exposures: list[tuple[str, Side, Decimal]]
    held: set[str]
    notional: Decimal  # gross, at the last price where known: what the account's leverage is measured against

    @classmethod
    def of(cls, positions: tuple[PositionView, ...], snapshots: dict[str, MarketSnapshot]) -> OpenBook:
        def price(p: PositionView) -> Decimal:
            snapshot = snapshots.get(p.symbol)
            return Decimal(repr(snapshot.price)) if snapshot is not None else p.entry_price

        return cls(
            exposures=[(p.symbol, p.side, p.risk_at_stop) for p in positions],
            held={p.symbol for p in positions},
            notional=sum((abs(p.quantity) * price(p) for p in positions), Decimal(0)),
        )

    def add(self, intent: OrderIntent) -> None:
        signal = intent.signal
        self.exposures.append((signal.symbol, signal.side, intent.quantity * intent.stop_distance))
        self.held.add(signal.symbol)
        self.notional += intent.quantity * intent.reference_price
