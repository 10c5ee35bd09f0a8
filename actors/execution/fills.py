"""What the exchange tells of our orders, applied to the positions: fills (each applied once) and order states."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from actors.clock import Clock
from actors.execution.book import ZERO, Book, LivePosition
from actors.execution.closing import Closing
from actors.execution.entries import Entries
from actors.execution.ids import Purpose, parse_client_order_id
from actors.execution.journal import Journal
from actors.execution.slippage import SlippageRecords, measured_fill
from actors.messages import PositionEvent
from exchange.port import ExchangeEvent, Fill, OrderState, OrderStatus
from state_machines import PositionState

log = logging.getLogger("quantum_trader.execution")
QUOTE_ASSET = "USDT"
ENTRY_GONE = (OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED)


class Fills:
    def __init__(
        self,
        book: Book,
        journal: Journal,
        entries: Entries,
        closing: Closing,
        clock: Clock,
        slippage: SlippageRecords,
    ) -> None:
        self.book, self.journal, self.entries, self.closing, self.clock = book, journal, entries, closing, clock
        self.slippage = slippage
        # The exchange told of a change no fill of ours explains: a position changed by someone else, a fill
        # under another client id, a current protective order gone without us. Reconciled with it at once.
        self.account_changed = False
        self.produced: list[PositionEvent] = []

    def apply_all(self, events: Iterable[ExchangeEvent]) -> tuple[PositionEvent, ...]:
        produced: list[PositionEvent] = []
        for event in events:
            if isinstance(event, Fill):
                produced.extend(self.apply(event))
            elif isinstance(event, OrderState):
                produced.extend(self.order_state(event))
            else:  # the account changed in a way no fill of ours explains: reconciled at once
                self.account_changed = True
        return tuple(produced)

    def take_produced(self) -> list[PositionEvent]:
        """What fills applied outside a step's own events (lookups, reconciles) produced, for the step to tell."""
        produced, self.produced = self.produced, []
        return produced

    def apply(self, fill: Fill) -> list[PositionEvent]:
        trade_id = f"{fill.client_order_id}:{fill.trade_id}"  # our ids are never reused, so this is unique for good
        known = self.book.owner(fill.client_order_id) or self._late_entry(fill)
        if known is None:  # someone else's order (a close by hand), or ours for a position no longer live
            self.account_changed = True
            return []
        if trade_id in known[0].trades:
            return []
        position, purpose = known
        if purpose == Purpose.ENTRY and position.filled + fill.quantity > position.quantity:
            # Applied before under another trade id (an older lookup's summary), told again now.
            log.info("%s: entry fill %s beyond the ordered quantity ignored", position.id, trade_id)
            return []
        position.trades.add(trade_id)
        position.applied[fill.client_order_id] = position.applied.get(fill.client_order_id, ZERO) + fill.quantity
        # The position's fees are USDT; a fee taken in another asset (BNB) stays on its fill row with its asset.
        fee = fill.fee if fill.fee_asset == QUOTE_ASSET else ZERO
        row = dict(
            client_order_id=fill.client_order_id,
            trade_id=trade_id,
            quantity=fill.quantity,
            price=fill.price,
            fee=fill.fee,
            fee_asset=fill.fee_asset,
            realized_pnl=fill.realized_pnl,
            at=fill.at,
        )
        if purpose == Purpose.ENTRY:
            position.add_entry_fill(fill.quantity, fill.price, fee)
            return self.entries.on_entry_fill(position, row)
        position.add_exit_fill(fill.quantity, fill.price, fee, fill.realized_pnl)
        return self.closing.on_exit_fill(position, purpose, row)

    def _late_entry(self, fill: Fill) -> tuple[LivePosition, str] | None:
        """A fill of an entry written off as never placed: the position comes back to be opened and protected."""
        position = self.book.revive(fill.client_order_id, self.clock.now_ms())
        if position is None:
            return None
        log.warning("%s: entry %s filled after it was written off; reopened", position.id, fill.client_order_id)
        self.journal.attach(position)
        return position, Purpose.ENTRY

    def order_state(self, state: OrderState) -> list[PositionEvent]:
        known = self.book.owner(state.client_order_id)
        parsed = parse_client_order_id(self.book.prefix, state.client_order_id)
        if state.status is OrderStatus.NEW:
            # Recorded when it was sent: the echo of a current order adds nothing. One of ours that is no live
            # position's current order (a request that timed out, registered by the exchange after it was replaced,
            # or after its position closed) must not rest: reconciled at once, which cancels it.
            current = known is not None and known[0].orders.get(known[1]) == state.client_order_id
            if parsed is not None and parsed.purpose != Purpose.ENTRY and not current:
                self.account_changed = True
            return []
        if known is None and parsed is None:
            return []  # not ours
        # Recorded for a finished position too: its resting orders expire or are cancelled after it closed.
        self.journal.record_order_state(state)
        purpose = known[1] if known is not None else parsed.purpose if parsed is not None else ""
        self._measure(state, purpose, known)
        if known is None:
            return []
        position = known[0]
        if state.status in ENTRY_GONE and position.orders.get(purpose) == state.client_order_id:
            self.account_changed = True  # a current protective or exit order gone, not by us (we replace first)
        never_filled = position.state in (PositionState.ENTRY_SUBMITTED, PositionState.UNKNOWN) and position.filled == 0
        if purpose == Purpose.ENTRY and state.status in ENTRY_GONE and never_filled:
            trigger = "reject" if state.status is OrderStatus.REJECTED else "cancel"
            self.journal.fire(position, trigger, reason=f"entry order {state.status.lower()} on the exchange")
            return self.closing.finish(position, f"entry {state.status.lower()}")
        return []

    def _measure(self, state: OrderState, purpose: str, known: tuple[LivePosition, str] | None) -> None:
        """A finished order of ours that filled: its slippage against the price it was decided at."""
        if not state.status.is_final or state.filled_qty <= 0:
            return
        sample = measured_fill(
            key=state.client_order_id,
            symbol=state.symbol,
            purpose=purpose,
            side=state.side,
            average_price=state.avg_price,
            trigger_price=state.trigger_price,
            decision_price=known[0].decision_price if known is not None else None,
            at=state.updated_at or self.clock.now_ms(),
        )
        if sample is not None:
            self.slippage.add(sample)
