"""The signals actor: the strategies on every closed candle, and the user's JSON-lines inbox.

The strategies (the built-in one and the user's: actors/signals/strategy.py) run in isolation
(actors/signals/runner.py): a candle whose output was dropped is recorded in `strategy_faults`, and a strategy
disabled after repeated failures pauses the gate through the step (`Step.signals_hold`; the orchestrator owns it).
Strategy signals of a step behind the clock are dropped (the strategies still see its candles, to warm up).

Inbox signals are read only in a step at most `signals.max_step_lag_s` behind the clock: the warm-up's history
and a catch-up after a gap are further behind, and a signal acted on there would be sized on their old prices.
Meanwhile the lines wait in the file, unread; once read they are judged by their age like any other (a line
without an `at` is as old as its first reading). Every signal of the step then goes through the admission
(actors/signals/admission.py): ids decided before are skipped, too old ones are recorded `REJECTED_AS_STALE`;
what is decided here and the inbox cursor (actors/signals/cursor.py) are committed in one transaction before
the step goes on.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection

from actors.base import SupervisedActor
from actors.messages import STALE_AFTER_MS, DecisionReason, Signal, Stage, Step, position_id_for
from actors.signals.admission import Admission, Outcome
from actors.signals.cursor import InboxLedger, cursor_name, load_cursor, save_cursor
from actors.signals.inbox import InboxLine, InboxPoll
from actors.signals.lineup import Lineup
from actors.signals.loading import load_strategies
from actors.signals.runner import StrategyFault
from persistence import records, strategy_records
from persistence.store import Store

log = logging.getLogger("quantum_trader.signals")
REUSED_SHOWN = 5  # reused ids named in one log line; the rest are counted


class SignalsActor(SupervisedActor):
    name = "signals"

    def start_up(self) -> None:
        settings = self.ctx.settings.signals
        self.lineup = Lineup(
            load_strategies(self.ctx.settings),
            budget_ms=settings.strategy_budget_ms,
            max_failures=settings.strategy_max_failures,
        )
        self.max_age_ms = round(settings.max_age_s * 1000)
        self.max_lag_ms = round(settings.max_step_lag_s * 1000)
        self.store = Store(self.ctx.engine)
        self.inbox: InboxLedger | None = None
        self.cursor_name = ""
        if settings.inbox is not None:
            self.cursor_name = cursor_name(settings.inbox)
            with self.store.connection.begin():
                saved = load_cursor(self.store.connection, self.cursor_name)
            self.inbox = InboxLedger(settings.inbox, saved)
        self.malformed = self.reused = self.expired = 0
        self.faults: list[StrategyFault] = self.lineup.start(self.ctx.clock.now_ms())

    def shut_down(self) -> None:
        if not hasattr(self, "store"):
            return
        try:
            self._checkpoint(self.ctx.clock.now_ms())
        except Exception:  # the cursor only lags then: a restart reads those lines again and skips them
            log.exception("signal inbox cursor not saved at stop")
        self.store.close()

    def handle(self, message: Any) -> Any:
        if isinstance(message, Step) and message.stage == Stage.EXITS:
            signals, hold = self._signals(message), self.lineup.hold
            if signals or hold or message.signals or message.signals_hold:
                self.pass_on(message, signals=signals, signals_hold=hold)
            else:  # most steps: nothing to add, the step goes on as it came (no fields to replace)
                self.pass_on(message)
        return None

    def _signals(self, step: Step) -> tuple[Signal, ...]:
        now = self.ctx.clock.now_ms()
        found, faults = self.lineup.on_step(step)
        if faults:
            self.faults.extend(faults)
        if not found and self.inbox is None:  # most steps: nothing to admit, no cursor; faults alone to record
            self._commit([], now)
            return ()
        if now - step.at > STALE_AFTER_MS:
            found = []
        for signal in found:
            if signal.note:
                log.info(
                    "strategy %s: %s %s %.2f: %s",
                    signal.source,
                    signal.symbol,
                    signal.side,
                    signal.confidence,
                    signal.note,
                )
        inbox = self.inbox if self.inbox is not None and now - step.at <= self.max_lag_ms else None
        pending: tuple[InboxLine, ...] = ()
        new: tuple[InboxLine, ...] = ()
        if inbox is not None:
            poll = inbox.poll(now)
            self._report(poll)
            pending, new = inbox.pending, poll.lines
        fresh: tuple[Signal, ...] = ()
        handed_on: tuple[InboxLine, ...] = ()
        rows: list[dict[str, Any]] = []
        if found or pending or new:
            fresh, handed_on, rows = self._admit(tuple(found), pending, new, now)
        if inbox is not None:
            inbox.hand_on(handed_on)
        self._commit(rows, now)
        if not handed_on:
            return fresh
        return (*fresh, *(line.signal for line in handed_on))

    def _admit(
        self, strategies: tuple[Signal, ...], pending: tuple[InboxLine, ...], new: tuple[InboxLine, ...], now: int
    ) -> tuple[tuple[Signal, ...], tuple[InboxLine, ...], list[dict[str, Any]]]:
        """The strategies' signals and the inbox lines that go on, and the decisions recorded here.

        `pending`: the inbox lines handed on in an earlier step. Those with a decision by now are done; those
        without one lost their step (an actor failed and the step was abandoned) and are judged again."""
        signals = [*strategies, *(line.signal for line in (*pending, *new))]
        with self.store.connection.begin():
            decided = records.signal_decisions_of(self.store.connection, (s.id for s in signals))
            undecided = (position_id_for(s.id) for s in signals if s.id not in decided)
            positions = records.position_states_of(self.store.connection, undecided)
        admission = Admission(decided=decided, positions=positions, now=now, max_age_ms=self.max_age_ms)
        lost = self._done(pending, decided)
        if lost:
            log.warning("%d inbox signal(s) lost their step before a decision: judged again", len(lost))
        rows: list[dict[str, Any]] = []
        reused: list[tuple[str, str]] = []

        def goes_on(signal: Signal, *, quiet: bool) -> bool:
            verdict = admission.judge(signal)
            if verdict.row is not None:
                rows.append(verdict.row)
            elif verdict.outcome is Outcome.DECIDED and not quiet:
                reused.append((signal.id, verdict.earlier))
            return verdict.outcome is Outcome.FRESH

        # A strategy's signal seen again is the strategy re-warming on candles it saw before a restart: no news.
        fresh = tuple(signal for signal in strategies if goes_on(signal, quiet=True))
        handed_on = tuple(line for line in (*lost, *new) if goes_on(line.signal, quiet=line.reread))
        self._log_reused(reused)
        return fresh, handed_on, rows

    def _commit(self, rows: list[dict[str, Any]], now: int) -> None:
        """The decisions recorded here and the inbox cursor, when it moved, in one transaction."""
        cursor = self.inbox.to_save() if self.inbox is not None else None
        if not rows and cursor is None and not self.faults:
            return
        faults, self.faults = self.faults, []

        def write(connection: Connection) -> None:
            records.insert_decisions(connection, rows)
            strategy_records.insert_faults(connection, (asdict(fault) for fault in faults))
            if cursor is not None:
                save_cursor(connection, self.cursor_name, cursor, now)

        self.store.write(write)
        for fault in faults:
            (log.error if fault.disabled else log.warning)(
                "strategy %s %s%s: %s",
                fault.strategy,
                fault.kind,
                f" on {fault.symbol}" if fault.symbol else "",
                fault.detail,
            )
        if self.inbox is not None and cursor is not None:
            self.inbox.saved_as(cursor)
        for row in rows:
            stale = row["reason"] == DecisionReason.REJECTED_AS_STALE
            self.expired += stale
            (log.warning if stale else log.info)(
                "signal %s %s %s: %s, %s", row["signal_id"], row["symbol"], row["side"], row["reason"], row["detail"]
            )

    def _checkpoint(self, now: int) -> None:
        """At stop: the cursor moves past the pending lines that have their decisions (the last step's, by now),
        so that a restart reads on from there rather than reading them again."""
        if self.inbox is None or not self.inbox.pending:
            return
        pending = self.inbox.pending
        with self.store.connection.begin():
            decided = records.signal_decisions_of(self.store.connection, (line.signal.id for line in pending))
        self.inbox.hand_on(self._done(pending, decided))
        self._commit([], now)

    @staticmethod
    def _done(pending: tuple[InboxLine, ...], decided: dict[str, str]) -> tuple[InboxLine, ...]:
        """Log the decisions of the lines handed on before; those still without one."""
        for line in pending:
            if line.signal.id in decided:
                log.info("inbox signal %s (line %d): %s", line.signal.id, line.number, decided[line.signal.id])
        return tuple(line for line in pending if line.signal.id not in decided)

    def _report(self, poll: InboxPoll) -> None:
        for number, reason in poll.errors:
            self.malformed += 1
            log.warning("signal inbox line %d skipped: %s", number, reason)
        for number, notice in poll.notices:
            log.warning("signal inbox line %d: %s", number, notice)

    def _log_reused(self, reused: list[tuple[str, str]]) -> None:
        """A line whose id has its decision already: skipped, nothing recorded, so each id keeps one decision."""
        if not reused:
            return
        self.reused += len(reused)
        named = ", ".join(f"{signal_id} ({earlier})" for signal_id, earlier in reused[:REUSED_SHOWN])
        more = f" and {len(reused) - REUSED_SHOWN} more" if len(reused) > REUSED_SHOWN else ""
        log.warning(
            "signal inbox: %d line(s) skipped, their id was decided before (one decision per id): %s%s",
            len(reused),
            named,
            more,
        )
