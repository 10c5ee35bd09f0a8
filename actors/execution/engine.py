"""The execution engine: owns the live positions, their machines, the client-id index and the pending writes,
and composes the flows (entries, protection, closing, fills, recovery). Plain Python: the actor wraps it.

Write ahead: an intent and its deterministic client order id are committed (`pending_entry`) before the order
leaves; an order whose outcome is unknown is looked up by client order id at the next step, never sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from actors.clock import Clock, utc_day
from actors.decisions import log_decisions
from actors.execution import recovery
from actors.execution.account import Account
from actors.execution.book import Book
from actors.execution.checkpoint import ExchangeCheckpoint
from actors.execution.closing import Closing
from actors.execution.entries import Entries
from actors.execution.exit_modes import ExitModes
from actors.execution.fills import Fills
from actors.execution.filters import Filters
from actors.execution.foreign import ForeignPositions
from actors.execution.journal import Journal
from actors.execution.loading import (
    client_id_prefix,
    latest_day_start,
    latest_equity,
    load_foreign_positions,
    load_live_positions,
    load_slippage_samples,
    load_trade_records,
)
from actors.execution.protection import Protection
from actors.execution.reconcile import Reconciler, Timing
from actors.execution.slippage import SLIPPAGE_MAX_AGE_MS, SlippageRecords
from actors.messages import (
    HaltGate,
    MoveStop,
    OrderIntent,
    Portfolio,
    PositionEvent,
    Step,
    TradingPolicy,
    exit_mode_in_force,
)
from config import ExitMode, Settings
from exchange.port import ExchangePort, OutcomeUnknown, RateLimited
from persistence import records
from persistence.store import Store
from state_machines import gate_machine, position_machine

log = logging.getLogger("quantum_trader.execution")
HOLD_AFTER_UNSAFE_MS = 900_000  # the gate stays paused this long after a position had to be closed unprotected


class ExecutionEngine:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        exchange: ExchangePort,
        store: Store,
        *,
        checkpoint_steps: bool,
        feed_health: Callable[[], str] = lambda: "",
        book_spreads: Callable[[], Mapping[str, float]] = dict,
    ) -> None:
        """`checkpoint_steps`: save the paper account with the first commit after each change of it (the service;
        a replay saves it at stop only). `feed_health`: the market feed's watchdog ("" or why it is dead or silent).
        `book_spreads`: the feed's best bid/ask spread of each symbol in bps (the Binance book-ticker stream), for an
        exchange without its own."""
        self.exchange, self.store, self.clock = exchange, store, clock
        self.feed_health = feed_health
        self.log_all_signals = settings.orchestrator.flags.log_all_signals
        self.accepting = True
        self.followed: TradingPolicy | None = None  # the policy `follow_policy` last took the exit mode from
        machine = position_machine()
        loaded = store.load(machine, gate_machine())
        self.journal = Journal(
            store,
            machine,
            clock,
            ExchangeCheckpoint(exchange, clock, with_commits=checkpoint_steps),
            durable_steps=checkpoint_steps,
        )
        self.book = Book(client_id_prefix(store.connection, settings.exchange))
        for position in load_live_positions(store.connection, loaded.positions).values():
            self.book.add(position)
        day = utc_day(clock.now_ms())
        self.filters = Filters(
            exchange,
            settings.symbols,
            refresh_every_ms=int(settings.exchange.refresh_filters_every_s * 1000),
            now=clock.now_ms(),
        )
        self.slippage = SlippageRecords(settings.risk.slippage_window)
        for sample in load_slippage_samples(store.connection, since=clock.now_ms() - SLIPPAGE_MAX_AGE_MS):
            self.slippage.add(sample)
        self.account = Account(
            exchange,
            self.journal,
            self.book,
            load_trade_records(store.connection),
            self.filters,
            day=day,
            day_start_equity=latest_day_start(store.connection, day),
            last_equity=latest_equity(store.connection),
            slippage=self.slippage,
            book_spreads=book_spreads,
        )
        self.timing = Timing(
            entry_lookup_after_ms=int(settings.exchange.entry_lookup_after_s * 1000),
            never_placed_after_ms=int(settings.exchange.never_placed_after_s * 1000),
            protect_within_ms=int(settings.exchange.protect_within_s * 1000),
            reconcile_every_ms=int(settings.exchange.reconcile_every_s * 1000),
        )
        self.closing = Closing(self.book, self.journal, exchange, self.account, clock)
        self.protection = Protection(
            self.book,
            self.journal,
            exchange,
            self.closing,
            self.filters,
            clock,
            protect_within_ms=self.timing.protect_within_ms,
        )
        self.entries = Entries(
            self.book, self.journal, exchange, self.protection, self.closing, self.filters, settings, clock
        )
        self.fills = Fills(self.book, self.journal, self.entries, self.closing, clock, self.slippage)
        self.reconciler = Reconciler(
            self.book,
            self.journal,
            exchange,
            self.fills,
            self.protection,
            self.closing,
            settings,
            clock,
            self.timing,
            ForeignPositions(self.journal, load_foreign_positions(store.connection)),
        )
        self.exit_modes = ExitModes(self.book, self.journal, self.protection)
        self.flags = settings.orchestrator.flags
        with store.connection.begin():  # a read of its own: the store's writes each begin their transaction
            recorded = records.latest_policy_exit_mode(store.connection)
        self.follow_policy(None, recorded=recorded)
        self.mismatches = loaded.mismatches
        self.last_reconcile = clock.now_ms()
        self.periodic_reconcile = not exchange.reports_every_change()  # a property of the exchange, for its life
        self.holds: dict[str, int] = {}  # why trading must pause -> until when (ms)
        self.answers: list[PositionEvent] = []
        self.unreconciled = ""  # why the start's reconcile has not happened yet (the exchange could not be asked)

    def start(self) -> tuple[tuple[recovery.Action, ...], list[HaltGate]]:
        """Reconcile with the exchange before trading; the plan applied, and what must halt the gate."""
        halts = []
        if self.mismatches:
            detail = "; ".join(m.describe() for m in self.mismatches)
            halts.append(HaltGate(reason=f"state does not match the audit trail: {detail}"))
        try:
            actions, more = self.reconciler.reconcile()
        except (OutcomeUnknown, RateLimited) as error:
            # Started while the exchange cannot be asked (down, or a ban): nothing trades until it is reconciled.
            log.error("not reconciled with the exchange at start (%s): tried again at every step", error)
            self.unreconciled = str(error)
            return (), halts
        self.fills.take_produced()  # the other actors load what recovery applied from the database at their start
        return actions, halts + more

    def _reconcile_late(self) -> list[HaltGate]:
        """The start's reconcile, once the exchange answers."""
        if self.exchange.blocked():
            return []
        try:
            actions, halts = self.reconciler.reconcile()
        except (OutcomeUnknown, RateLimited) as error:
            self.unreconciled = str(error)
            return []
        log.warning("reconciled with the exchange: %d action(s)", sum(a.kind != "confirm" for a in actions))
        self.unreconciled = ""
        return halts

    def close(self) -> None:
        """At stop: what is still to be written, and the paper account if it changed (a replay's too)."""
        self.journal.flush(at_stop=True)
        self.store.close()

    def on_market(self, step: Step) -> tuple[Portfolio, tuple[PositionEvent, ...], list[HaltGate]]:
        """The step's market: the exchange matches (paper), fills are applied, the account is read."""
        candles = step.candles
        for candle in candles:
            self.exchange.on_candle(candle)
        # The account the matching changed is saved with the step's first commit (`checkpoint.py`).
        halts = self._reconcile_late() if self.unreconciled else []
        events: list[PositionEvent] = self.answers  # what became of the stops the exits actor asked to move
        self.answers = []
        # Deadlines run on the clock that stamped their start (an entry sent, a stop missing since): a step of
        # history (a restart's catch-up, candles behind the clock) carries an old time, and would hold them off.
        now = self.clock.now_ms()
        if not self.unreconciled:
            told = self.exchange.drain_events()
            if told:  # most steps of a replay tell nothing
                events += self.fills.apply_all(told)
            halts += self.reconciler.resolve_unknown(now)
            halts += self._keep_safe(now)
        if self.fills.produced:
            events += self.fills.take_produced()
        self.filters.keep_fresh(step.at, [candle.symbol for candle in candles])
        portfolio = self.account.portfolio(step.at, execution_hold=self._hold(now))
        self.account.snapshot_equity(step.at, portfolio)
        # Order-status updates and equity snapshots wait for the end of the step (a replay's, for its next commit):
        # nothing depends on them before then (transitions commit on their own), and new orders go out sooner.
        return portfolio, tuple(events), halts

    def move_stop(self, command: MoveStop) -> None:
        """A trailing move, or a change to a more defensive exit mode; its answer goes to the exits actor with the
        next step's events."""
        if command.mode_change is None:
            answer = self.protection.move_stop(command.position_id, command.stop_price)
        else:
            answer = self.exit_modes.apply(command)
        if answer is not None:
            self.answers.append(answer)

    def follow_policy(self, policy: TradingPolicy | None, *, recorded: ExitMode | None = None) -> None:
        """The exit mode in force (the step's policy, or at start the last one recorded), which a position adopted
        from the exchange follows."""
        if policy is not None and policy is self.followed:
            return  # the same policy as the last step's (it is handed on unchanged while it holds)
        self.followed = policy
        mode = policy.exit_mode if policy is not None else recorded
        self.reconciler.exit_mode = exit_mode_in_force(
            mode, enforced=self.flags.enforcing, use_for_exit_mode=self.flags.use_for_exit_mode
        )

    def _keep_safe(self, now: int) -> list[HaltGate]:
        """The protection invariant while running: a light reconcile with the exchange at once when it told of a
        change that is not ours, and at least every `reconcile_every_ms` unless it reports every change (the paper
        exchange: the periodic one would only ever confirm); then every position whose protection is not known to
        be whole is settled; what cannot be made safe pauses the gate."""
        halts: list[HaltGate] = []
        due = (
            self.fills.account_changed
            or bool(self.reconciler.first_look)
            or (self.periodic_reconcile and now - self.last_reconcile >= self.timing.reconcile_every_ms)
        )
        if due and not self.exchange.blocked():
            try:
                halts = self.reconciler.light_reconcile()
                self.last_reconcile, self.fills.account_changed = now, False
            except (OutcomeUnknown, RateLimited) as error:
                log.warning("reconcile with the exchange not done (%s); tried again at the next step", error)
        if self.protection.unsure:
            for reason in self.protection.ensure(now):
                self.holds[reason] = now + HOLD_AFTER_UNSAFE_MS
        return halts

    def _hold(self, now: int) -> str:
        """Why trading must pause now: a position that could not be kept safe lately, or a stream that is dead or
        silent (fills or prices may be late); "" when none holds. Checked at every step, so it lifts by itself."""
        if self.holds:
            self.holds = {reason: until for reason, until in self.holds.items() if until > now}
        exchange, feed = self.exchange.health(), self.feed_health()
        if not (self.holds or exchange or feed or self.unreconciled):
            return ""  # most steps
        streams = [health for health in (exchange, feed) if health]
        waiting = [f"not reconciled with the exchange yet ({self.unreconciled})"] if self.unreconciled else []
        return "; ".join([*waiting, *sorted(self.holds), *streams])

    def on_intents(self, intents: tuple[OrderIntent, ...], at: int) -> None:
        """The step's sized entries, written ahead together with all the step learned, then each sent once; the
        sends' outcomes and the decisions are the step's last transaction."""
        decisions = self.entries.open_all(intents) if self.accepting and intents else []
        if decisions:
            self.journal.defer(lambda c: records.insert_decisions(c, decisions))
        self.journal.flush()  # the step's last transaction: with the account, if the step changed it since
        log_decisions(decisions, log_all=self.log_all_signals)
