"""Applying the recovery plan (actors/execution/recovery.py): at start, and for unknown entries at every step.

Position events of what recovery applies are not published: the other actors rebuild their view from the
database at start, and an entry resolved at a step reaches them through the portfolio."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from actors.clock import Clock
from actors.execution import recovery
from actors.execution.book import Book, LivePosition
from actors.execution.closing import Closing
from actors.execution.fills import Fills
from actors.execution.foreign import ForeignPositions
from actors.execution.ids import Purpose, entry_client_id
from actors.execution.journal import Journal, in_order
from actors.execution.protection import Protection
from actors.exits.strategies import plan_exits
from actors.messages import STATIC_EXIT_MODE, HaltGate, Side, position_id_for
from config import ExitMode, Settings
from exchange.port import ExchangePort, ExchangePosition, Fill, OrderRejected, OrderState, OutcomeUnknown, RateLimited
from state_machines import PositionState

log = logging.getLogger("quantum_trader.execution")
WAITING_FOR_LOOKUP = (PositionState.UNKNOWN, PositionState.PENDING_ENTRY)
RECOVERY_HALT = "recovery: "  # how the reason of a gate halted by recovery begins
# While running, what the exchange holds may be ahead of what it has told: a fill of one of our orders can be
# on its way on the stream. These conclusions about someone else's doing count only when a second look, at the
# next step (the events on their way come first), finds the same.
SECOND_LOOK = ("reduce", "close")


@dataclass(frozen=True, slots=True)
class Timing:
    """How long execution waits before it looks, decides or acts (settings `exchange.*`, in milliseconds)."""

    entry_lookup_after_ms: int = 10_000  # a sent entry whose fill was not heard is looked up after this
    never_placed_after_ms: int = 60_000  # an entry not found is written off only after lookups spread over this
    protect_within_ms: int = 30_000  # a position without a full stop for longer is closed at market
    reconcile_every_ms: int = 60_000  # positions and open orders checked against the exchange at least this often


class Reconciler:
    def __init__(
        self,
        book: Book,
        journal: Journal,
        exchange: ExchangePort,
        fills: Fills,
        protection: Protection,
        closing: Closing,
        settings: Settings,
        clock: Clock,
        timing: Timing,
        foreign: ForeignPositions,
    ) -> None:
        self.book, self.journal, self.exchange, self.fills = book, journal, exchange, fills
        self.foreign = foreign
        self.protection, self.closing, self.settings, self.clock = protection, closing, settings, clock
        self.timing = timing
        self.misses: dict[str, tuple[int, int]] = {}  # position id -> (first lookup that missed, lookups)
        self.reported: set[str] = set()  # what the last light reconcile said of positions that are not ours
        self.exit_mode: ExitMode = STATIC_EXIT_MODE  # the mode in force, which an adopted position follows
        self.first_look: set[tuple[str, str, str]] = set()  # (kind, position, detail) seen once, to be seen again

    def resolve_unknown(self, now: int) -> list[HaltGate]:
        """Look up, by client order id, every entry whose outcome is not known, and every sent entry whose fill was
        not heard within its deadline. Never resend. An entry not found is declared never placed only after
        lookups spread over `never_placed_after_ms`: an exchange can register a request that timed out late."""
        if not self.book.live:
            self.misses.clear()
            return []
        waiting = [
            p
            for p in self.book
            if p.state in WAITING_FOR_LOOKUP
            or (p.state == PositionState.ENTRY_SUBMITTED and now - p.submitted_at >= self.timing.entry_lookup_after_ms)
        ]
        self.misses = {pid: seen for pid, seen in self.misses.items() if self.book.get(pid) is not None}
        facts: list[recovery.PositionFacts] = []
        for position in waiting:  # one at a time: an entry Binance does not show yet holds up no other
            try:
                found, _ = recovery.gather([position], self.exchange, self.book.prefix, positions_only=True)
            except OutcomeUnknown:
                continue  # still unknown: looked up again at the next step
            except RateLimited:
                break  # nothing more is asked now
            facts += found
        if not facts:
            return []
        exchange_facts = recovery.ExchangeFacts(held={}, open_orders=())  # entries only: not the account's positions
        halts: list[HaltGate] = []
        for action in recovery.plan(facts, exchange_facts, self.book.prefix, positions_only=True):
            if action.kind == "cancel_entry" and not self._missing_long_enough(action.target, now):
                continue
            if action.kind != "confirm":
                log.warning("resolved by client order id: %s %s: %s", action.kind, action.target, action.detail)
            try:
                halts.extend(self._apply(action, exchange_facts))
            except (OutcomeUnknown, RateLimited):
                break  # the rest is looked up again at the next step
        return halts

    def _sent_too_recently(self, position_id: str) -> bool:
        """At start, as while running: an entry not found is written off only once `never_placed_after_ms` has passed
        since it was sent (its row's time), or a late fill could reopen it beside a new position on its symbol. Until
        then it stays unresolved, looked up again at every step (`resolve_unknown`), this lookup counted as a miss."""
        position = self.book.get(position_id)
        now = self.clock.now_ms()
        if position is None or now - position.created_at >= self.timing.never_placed_after_ms:
            return False
        self.misses[position_id] = (position.created_at, 1)
        log.warning(
            "recovery: keep_unresolved %s: entry order not found on the exchange yet; written off only %d s after "
            "it was sent",
            position_id,
            self.timing.never_placed_after_ms // 1000,
        )
        return True

    def _missing_long_enough(self, position_id: str, now: int) -> bool:
        first, lookups = self.misses.get(position_id, (now, 0))
        self.misses[position_id] = (first, lookups + 1)
        return lookups + 1 >= 2 and now - first >= self.timing.never_placed_after_ms

    def light_reconcile(self) -> list[HaltGate]:
        """While running: the exchange's positions and open orders against the book (two requests). A position
        the exchange no longer holds, holds otherwise, or whose orders do not rest as they should is looked at
        order by order; the recovery plan (`running=True`) settles it as at start (fills applied, closed with the
        reason, or protected again) and names our orders that belong to no live position, which are cancelled."""
        held = {p.symbol: p for p in self.exchange.positions() if p.quantity != 0}
        open_orders = self.exchange.open_orders()
        resting = {o.client_order_id: o for o in open_orders}
        odd = [p for p in self.book if p.state in recovery.OPEN_STATES and self._looks_odd(p, held, resting)]
        facts, _ = recovery.gather(odd, self.exchange, self.book.prefix, positions_only=True) if odd else ([], None)
        examined = {p.id for p in odd}
        facts += [recovery.resting_facts(p, resting, self.book.prefix) for p in self.book if p.id not in examined]
        exchange_facts = recovery.ExchangeFacts(held=held, open_orders=open_orders)
        actions = recovery.plan(facts, exchange_facts, self.book.prefix, running=True, symbols=self.settings.symbols)
        seen, self.first_look = self.first_look, set()
        halts: list[HaltGate] = []
        for action in actions:
            look = (action.kind, action.target, action.detail)
            if action.kind in SECOND_LOOK and look not in seen:
                self.first_look.add(look)
                log.info("reconcile: %s %s seen once: %s; looked at again at the next step", *look)
                continue
            if action.kind in ("foreign", "unowned"):
                self._report_once(action)
            elif action.kind != "confirm":
                log.warning("reconcile: %s %s: %s", action.kind, action.target, action.detail)
            halts.extend(self._apply(action, exchange_facts))
        self.reported = {a.detail for a in actions if a.kind in ("foreign", "unowned")}
        self._keep_foreign(actions, exchange_facts)
        return halts

    def _keep_foreign(self, actions: tuple[recovery.Action, ...], facts: recovery.ExchangeFacts) -> None:
        """The positions in symbols outside the configuration, as this reconcile saw them, for `status`."""
        self.foreign.seen([facts.held[a.target] for a in actions if a.kind == "foreign"], self.clock.now_ms())

    def _report_once(self, action: recovery.Action) -> None:
        """A position that is not ours is logged when it is first seen (or changes), not at every reconcile."""
        if action.detail not in self.reported:
            log.warning("reconcile: %s %s: %s", action.kind, action.target, action.detail)

    @staticmethod
    def _looks_odd(position: LivePosition, held: dict[str, ExchangePosition], resting: dict[str, OrderState]) -> bool:
        on_exchange = held.get(position.symbol)
        if on_exchange is None or abs(on_exchange.quantity) != position.open_quantity:
            return True
        if (on_exchange.quantity > 0) != (position.side is Side.LONG):
            return True
        if position.state == PositionState.CLOSING:
            return False
        stop = resting.get(position.orders.get(Purpose.STOP, ""))
        return stop is None or stop.quantity < position.open_quantity

    def reconcile(self) -> tuple[tuple[recovery.Action, ...], list[HaltGate]]:
        """At (re)start: apply what happened while down, then the recovery plan."""
        self.fills.apply_all(self.exchange.drain_events())
        facts, exchange_facts = recovery.gather(self.book, self.exchange, self.book.prefix)
        actions = recovery.plan(facts, exchange_facts, self.book.prefix, symbols=self.settings.symbols)
        self._refresh_order_rows(facts)
        unfound = {f.position_id for f in facts if f.state in recovery.ENTRY_STATES and f.entry is None}
        halts: list[HaltGate] = []
        for action in actions:
            if action.kind == "cancel_entry" and action.target in unfound and self._sent_too_recently(action.target):
                continue
            if action.kind != "confirm":
                log.warning("recovery: %s %s: %s", action.kind, action.target, action.detail)
            halts.extend(self._apply(action, exchange_facts))
        self.reported = {a.detail for a in actions if a.kind == "foreign"}  # logged above: not again while running
        self._keep_foreign(actions, exchange_facts)
        self.journal.flush()
        return actions, halts

    def _refresh_order_rows(self, facts: list[recovery.PositionFacts]) -> None:
        """Order rows as the exchange has them now: a status update deferred to the end of a step is lost with a
        kill."""
        for position in facts:
            for order in (position.entry, *position.orders.values()):
                if order is not None:
                    self.journal.record_order_state(order)

    def _apply(self, action: recovery.Action, facts: recovery.ExchangeFacts) -> list[HaltGate]:
        if action.kind == "adopt":
            self._adopt(facts.held[action.target])
            return []
        if action.kind in ("foreign", "unowned"):
            return []  # not ours: reported (the log, `recover --dry-run`), never touched
        if action.kind == "cancel_orphan":
            try:
                self.exchange.cancel_order(action.symbol, action.target)
            except OrderRejected:
                log.info("orphan %s was gone already", action.target)
            return []
        if action.kind == "halt":
            return [HaltGate(reason=f"{RECOVERY_HALT}{action.target}: {action.detail}")]
        position = self.book.get(action.target)
        if position is None:
            return []  # finished by an earlier action of the plan
        match action.kind:
            case "cancel_entry" | "reject_entry":
                self.journal.fire(
                    position, "cancel" if action.kind == "cancel_entry" else "reject", reason=action.detail
                )
                self.closing.finish(position, "cancelled")
            case "confirm_submitted":
                self.journal.fire(position, "submit", reason=action.detail)
            case "fill_from_lookup":
                self._fill_from_lookup(position)
            case "apply_fills":
                self._apply_fills(position, action.purposes)
            case "exit_failed":
                self.journal.fire(position, "exit_failed", reason=action.detail)
            case "close":
                self.journal.fire(
                    position,
                    "reconcile",
                    reason=action.detail,
                    changes=dict(close_reason="closed on the exchange", closed_at=self.clock.now_ms()),
                )
                self.fills.produced.extend(self.closing.finish(position, "closed on the exchange"))
            case "reduce":
                self._reduce(position, facts.held[position.symbol], action.detail)
            case "reprotect":
                self.protection.reprotect(position, action.purposes)
        return []

    def _reduce(self, position: LivePosition, held: ExchangePosition, reason: str) -> None:
        """Part of the position was closed on the exchange by someone else: what it holds comes down to what the
        exchange holds. The trade is not ours to read, so it counts at the exchange's mark price (its entry price
        when there is none); the resting stop and targets are reduce-only and still cover what is left."""
        gone = position.open_quantity - abs(held.quantity)
        if gone <= 0 or position.entry_price is None:
            return
        price = held.mark_price if held.mark_price is not None else held.entry_price
        pnl = (price - position.entry_price) * position.side.sign * gone
        position.add_exit_fill(gone, price, Decimal(0), pnl)
        self.journal.fire(
            position,
            "reduce",
            reason=reason,
            quantity=str(gone),
            price=str(price),
            pnl=str(pnl),
            changes=dict(realized_pnl=position.realized_pnl, details=position.details()),
        )

    def _apply_fills(self, position: LivePosition, purposes: tuple[str, ...]) -> None:
        """The fills of the position's orders that nobody heard of, from the exchange's trades, in the order they
        happened: each closes or shrinks the position for its order's reason, with the exchange's figures."""
        ids = {**position.orders, Purpose.ENTRY: entry_client_id(self.book.prefix, position.id)}
        fills = [
            fill
            for purpose in purposes
            if purpose in ids
            for fill in self.exchange.order_fills(position.symbol, ids[purpose])
        ]
        for fill in sorted(fills, key=lambda f: (f.at, f.trade_id)):
            if self.book.holds(position):
                self.fills.produced.extend(self.fills.apply(fill))

    def _adopt(self, held: ExchangePosition) -> None:
        """A position on the exchange with no record here: take it on, protected by the exit mode in force."""
        side = Side.LONG if held.quantity > 0 else Side.SHORT
        quantity = abs(held.quantity)
        pid = position_id_for(f"adopt-{held.symbol}-{held.entry_price}-{quantity}")
        now = self.clock.now_ms()
        values = dict(
            id=pid,
            symbol=held.symbol,
            side=str(side),
            client_order_id=entry_client_id(self.book.prefix, pid),
            quantity=quantity,
            filled_quantity=quantity,
            entry_price=held.entry_price,
            exit_price=None,
            stop_price=None,
            take_profit_price=None,
            realized_pnl=Decimal(0),
            fees=Decimal(0),
            exit_mode=str(self.exit_mode),
            signal_id=None,
            close_reason=None,
            opened_at=now,
            closed_at=None,
            details="{}",
        )
        model = self.journal.create(
            values,
            reason="found on the exchange with no record here",
            payload={"quantity": str(quantity), "entry_price": str(held.entry_price)},
        )
        position = LivePosition(
            model=model,
            symbol=held.symbol,
            side=side,
            quantity=quantity,
            exit_mode=self.exit_mode,
            stop_distance=Decimal(0),
            filled=quantity,
            entry_price=held.entry_price,
            entry_cost=quantity * held.entry_price,
        )
        self.book.add(position)
        filters = self.exchange.symbol_filters(held.symbol)
        plan = plan_exits(
            self.settings.exit_modes[self.exit_mode],
            side,
            filters.round_price(held.entry_price, up=False),
            quantity,
            filters,
        )
        position.stop_price, position.take_profit_price = plan.stop_price, plan.take_profit_price
        position.risk_per_unit, position.trailing_pct = plan.risk_per_unit, plan.trailing_pct
        position.trailing_start = plan.trailing_start
        requests = self.protection.requests(position, Decimal(0))
        rows = self.protection.register(position, requests)
        self.journal.fire(
            position,
            "adopt",
            reason=f"position found on the exchange with no record here; adopted and protected ({self.exit_mode})",
            changes=dict(
                stop_price=plan.stop_price, take_profit_price=plan.take_profit_price, details=position.details()
            ),
            also=in_order(*rows),
        )
        self.protection.send(position, requests)

    def _fill_from_lookup(self, position: LivePosition) -> None:
        """The entry filled while nobody listened: apply its trades (or, when they cannot be read, the order's own
        figures, with the fee unknown)."""
        entry_id = entry_client_id(self.book.prefix, position.id)
        order = self.exchange.get_order(position.symbol, entry_id)
        if order is None or order.filled_qty <= 0 or order.avg_price is None:
            return
        if position.state == PositionState.PENDING_ENTRY:
            self.journal.fire(position, "submit", reason="entry order found on the exchange after a restart")
        fills = self.exchange.order_fills(position.symbol, entry_id) or (
            Fill(
                client_order_id=entry_id,
                symbol=position.symbol,
                side=order.side,
                quantity=order.filled_qty,
                price=order.avg_price,
                fee=Decimal(0),
                realized_pnl=Decimal(0),
                at=self.clock.now_ms(),
                trade_id=0,
            ),
        )
        for fill in fills:
            self.fills.produced.extend(self.fills.apply(fill))
