"""Follows what the service commits and turns it into notices, on a thread of its own.

Why the transitions table rather than a hook in the actors: every gate and position change is already committed
there with its reason, in the same transaction as the new state, so following it needs no change to any actor
(they stay free of notifications), says only what was committed (never a change rolled back), sees changes made
by anyone (the supervisor's halt written straight to the database too), and costs the trading threads nothing:
one small read a `notify.poll_s` on this thread. The price is up to that much delay, which a person reading a
phone does not notice.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime

from sqlalchemy import Engine, func, select

from actors.clock import Clock
from persistence.tables import POSITIONS, TRANSITIONS
from service import activity
from service.notify.notices import Change, daily_summary, notice_for
from service.notify.sender import Notifier
from service.terminal import describe_error

log = logging.getLogger("quantum_trader.notify")

# On PostgreSQL two transactions may commit their rows out of id order: the rows this far under the newest seen
# are read again, and those already told are skipped.
REREAD = 200
DAY_MS = 86_400_000


class Follower:
    def __init__(self, engine: Engine, clock: Clock, notifier: Notifier, *, poll_s: float, daily: bool) -> None:
        self.engine = engine
        self.clock = clock
        self.notifier = notifier
        self.poll_s = poll_s
        self.daily = daily
        self._told: set[int] = set()
        self._cursor = 0
        self._day = self._day_of(clock.now_ms())
        self._failing = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="notify-follower", daemon=True)

    def start(self) -> None:
        """From now on: what was committed before the start was told by the run that committed it."""
        with self.engine.connect() as connection:
            self._cursor = int(connection.execute(select(func.max(TRANSITIONS.c.id))).scalar() or 0)
        self._thread.start()

    def stop(self) -> None:
        """Tell what was committed up to now, then end."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _follow(self) -> None:
        while True:
            stopping = self._stop.wait(self.poll_s)
            try:
                self._read()
                self._day_change()
                if self._failing:
                    log.info("notifications: the database is read again")
                self._failing = False
            except Exception as error:  # the database away for a while: tried again at the next poll
                if not self._failing:
                    log.warning("notifications: committed changes not read (%s); trying again", describe_error(error))
                self._failing = True
            if stopping:
                return

    def _read(self) -> None:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(TRANSITIONS)
                .where(TRANSITIONS.c.id > self._cursor - REREAD, TRANSITIONS.c.machine.in_(("gate", "position")))
                .order_by(TRANSITIONS.c.id)
            ).mappings()
            changes = []
            for row in rows:
                if row["id"] in self._told or row["id"] <= self._cursor - REREAD:
                    continue
                position = None
                if row["machine"] == "position":
                    found = connection.execute(select(POSITIONS).where(POSITIONS.c.id == row["entity_id"]))
                    position = dict(found.mappings().first() or {}) or None
                changes.append((row["id"], row, position))
        for row_id, row, position in changes:
            self._told.add(row_id)
            self._cursor = max(self._cursor, row_id)
            change = Change(
                machine=row["machine"],
                entity_id=row["entity_id"],
                source=row["source"] or "",
                dest=row["dest"],
                trigger=row["trigger"],
                reason=row["reason"],
                position=position,
            )
            notice = notice_for(change)
            if notice is not None:
                self.notifier.post(notice)
        self._told = {told for told in self._told if told > self._cursor - REREAD}

    def _day_change(self) -> None:
        """At the first poll of a new UTC day (on the service's clock), the summary of the day before."""
        today = self._day_of(self.clock.now_ms())
        if today == self._day:
            return
        ended, self._day = self._day, today
        if not self.daily:
            return
        start = int(datetime.combine(ended, datetime.min.time(), UTC).timestamp() * 1000)
        with self.engine.connect() as connection:
            trades = activity.trades_closed(connection, start, start + DAY_MS)
            equity = activity.equity(connection)
            gate = activity.gate(connection)
        self.notifier.post(daily_summary(ended.isoformat(), trades, equity, gate))

    @staticmethod
    def _day_of(ms: int) -> date:
        return datetime.fromtimestamp(ms / 1000, UTC).date()
