"""The account's lease as this process holds it: taken at start (or waited for, as a standby), renewed on a thread
of its own, checked by every commit (the fence, persistence/lease.py) and before every order sent or cancelled.

Taking over: a process that can hold every owner lock (`service.lock.owner_locks`: the database's instance lock,
the host's account lock, on a server the account's advisory lock) knows the previous owner's process is gone and
takes the lease at once; otherwise only once the lease has expired (the owner paused, partitioned, or its host
gone), and then without those locks, which it takes as soon as the old owner lets them go.

An owner that loses the lease (a renewal or a commit finds another token) stops: `lost` says why. Orders are sent
only while the lease is known to be held, by this process's own monotonic clock: until `seconds` minus a margin
after the start of the last renewal that succeeded. A process paused past its lease sends nothing when it resumes.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from actors.clock import Clock
from config import ExchangeKind, Settings
from config.sections import LeaseSettings
from persistence import lease as leases
from persistence import records
from persistence.lease import Fenced, Lease, Owner
from service.lock import AccountLock, AlreadyRunning, _Held, account_key, owner_locks

log = logging.getLogger("quantum_trader.lease")
SEND_MARGIN_S = 2.0  # orders stop this long before the lease would run out unrenewed
POLL_S = 0.5  # how often a standby looks at the lease


def database_id(engine: Engine) -> str:
    with engine.connect() as connection:
        found = records.load_state(connection, leases.DATABASE_ID)
    if not found:
        raise RuntimeError("this database has no id: run `quantum-trader db upgrade`")
    return str(found)


def lease_for(settings: Settings, engine: Engine, clock: Clock) -> AccountLease:
    """The lease on the account `settings` trade, in the database `engine` opens (its URL: the settings')."""
    key = account_key(settings, database_id(engine))
    return AccountLease(engine, key, clock, settings.lease, database_url=settings.database.url)


def refuse_if_traded_here(settings: Settings) -> None:
    """Raises `AlreadyRunning` if another process on this host trades the Binance account the settings name: said
    before a database is opened or made. (A paper account is named by its database: nothing to tell before.)"""
    if settings.exchange.kind is not ExchangeKind.BINANCE:
        return
    with AccountLock(account_key(settings, ""), settings.database.url):
        pass


def this_process() -> Owner:
    return Owner(socket.gethostname(), os.getpid(), uuid.uuid4().hex[:12])


class AccountLease:
    def __init__(
        self,
        engine: Engine,
        key: str,
        clock: Clock,
        settings: LeaseSettings,
        *,
        database_url: str,
        owner: Owner | None = None,
        locks: Callable[[], list[_Held]] | None = None,
    ) -> None:
        self.engine = engine
        self.key = key
        self.clock = clock
        self.lease_ms = int(settings.seconds * 1000)
        self.renew_every_s = settings.renew_every_s
        self.send_window_s = max(settings.seconds - SEND_MARGIN_S, settings.seconds / 2)
        self.owner = owner or this_process()
        self._locks = locks or (lambda: owner_locks(key, database_url))
        self.held: Lease | None = None
        self.lost = ""  # why the lease was lost ("" while held)
        self.on_lost: Callable[[str], None] = lambda _why: None
        self.refused_writes = 0
        self.refused_sends = 0
        self._held_locks: list[_Held] = []
        self._valid_until = 0.0  # monotonic seconds
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- taking it ------------------------------------------------------------------------------

    def take(self, *, standby: bool, stopping: threading.Event) -> Lease | None:
        """Become the owner. Without `standby`, raises `AlreadyRunning` (saying who holds it) if it is held; with
        it, waits until it can be taken, or until `stopping` is set (then None)."""
        said = ""
        try:
            while not stopping.is_set():
                got, holder, who = self._try_take()
                if got is not None:
                    return got
                if not standby:
                    raise AlreadyRunning(f"{holder}; start this one with --standby to take over when it goes")
                self._say_waiting()
                if who != said:  # said again only when another process holds it
                    log.warning("standby: %s; waiting to take over", holder)
                    said = who
                stopping.wait(POLL_S)
            return None
        finally:
            if self.held is None:
                self._leave_standby()

    def _try_take(self) -> tuple[Lease | None, str, str]:
        """(the lease taken, "", "") or (None, who holds it for a person, the same as an identity).

        With every owner lock, the lease is taken whatever it says (its owner's process is gone). Without them it is
        taken only once expired, and only from the process that holds them: a paused or cut-off owner. Another
        process holding them trades the same account from another database (whose lease this one cannot see)."""
        locks, refusal = self._take_locks()
        now = self.clock.now_ms()
        try:
            with self.engine.begin() as connection:
                seen = leases.read(connection, self.key)
                if not locks:
                    assert refusal is not None
                    if seen is None or not seen.expired(now) or refusal.holder_pid != seen.owner.pid:
                        held_by = f"its lease is {seen.describe(now)}" if seen is not None else "its lock is held"
                        who = f"{seen.owner.instance} {seen.token}" if seen is not None else str(refusal)
                        return None, f"{refusal} ({held_by})", who
                started = time.monotonic()
                got = leases.take(connection, self.key, self.owner, now=now, lease_ms=self.lease_ms, seen=seen)
        except IntegrityError:
            got = None  # another process made the row first
        except OperationalError as error:  # SQLite: a paused owner may hold the database's write lock
            self._release_locks(locks)
            return None, f"the database is locked by another process ({error.orig})", "locked"
        if got is None:
            self._release_locks(locks)
            return None, "another process took the lease first", ""
        self._held_locks = locks
        self._became_owner(got, started, seen)
        return got, "", ""

    def _became_owner(self, got: Lease, started: float, previous: Lease | None) -> None:
        self.held = got
        self._valid_until = started + self.send_window_s
        leases.install_fence(self.engine, got, self.clock.now_ms, self._fenced_write)
        how = "with its locks" if self._held_locks else "without the previous owner's locks (it may still live)"
        before = f"; before: {previous.owner.describe()} token {previous.token}" if previous is not None else ""
        # Taken from an owner whose lease had not run out (gone, or paused): worth a person's look; else a plain start.
        level = logging.WARNING if previous is not None and not previous.expired(got.acquired_at) else logging.INFO
        if not self._held_locks:
            level = logging.WARNING
        log.log(level, "took the lease on %s: token %d, %s%s", self.key, got.token, how, before)
        self._keeper = threading.Thread(target=self._keep, name="lease-keeper", daemon=True)
        self._keeper.start()

    def _take_locks(self) -> tuple[list[_Held], AlreadyRunning | None]:
        """Every owner lock, or none and why: those taken are let go again if one is refused."""
        taken: list[_Held] = []
        for lock in self._locks():
            try:
                lock.acquire()
            except AlreadyRunning as refused:
                self._release_locks(taken)
                return [], refused
            taken.append(lock)
        return taken, None

    @staticmethod
    def _release_locks(locks: list[_Held]) -> None:
        for lock in locks:
            lock.release()

    def _say_waiting(self) -> None:
        """For `status`: this process waits to take over (not said this time if the database is locked)."""
        try:
            with self.engine.begin() as connection:
                leases.wait_as_standby(connection, self.key, self.owner, now=self.clock.now_ms())
        except OperationalError as error:
            log.debug("the standby row was not written: %s", error)

    def _leave_standby(self) -> None:
        try:
            with self.engine.begin() as connection:
                leases.leave_standby(connection, self.owner)
        except SQLAlchemyError as error:
            log.debug("the standby row was not removed: %s", error)

    # --- holding it -----------------------------------------------------------------------------

    def _keep(self) -> None:
        while not self._stop.wait(self.renew_every_s):
            if self.lost:
                return
            self.renew()

    def renew(self) -> None:
        """Extend the lease (the keeper's thread does it every `renew_every_s`); a lease found taken over is lost."""
        held = self.held
        if held is None or self.lost:
            return
        started = time.monotonic()
        try:
            with self.engine.begin() as connection:
                renewed = leases.renew(connection, held, now=self.clock.now_ms(), lease_ms=self.lease_ms)
        except Fenced as error:
            self._lose(str(error))
            return
        except SQLAlchemyError as error:  # the database is unreachable: orders stop when the lease may have run out
            log.error("the lease on %s was not renewed: %s", self.key, error)
            return
        with self._lock:
            self.held = renewed
            self._valid_until = started + self.send_window_s
        if not self._held_locks:
            self._held_locks, _ = self._take_locks()  # the previous owner let them go at last

    def ensure_held(self) -> None:
        """Raises `Fenced` unless this process may send: it holds the lease by its own clock, and never lost it."""
        if self.lost:
            self.refused_sends += 1
            raise Fenced(self.lost)
        if time.monotonic() > self._valid_until:
            self.refused_sends += 1
            self._lose(
                f"the lease on this account was not renewed for {self.send_window_s:.0f}s (this process was paused, "
                "or the database was out of reach): another process may own it now"
            )
            raise Fenced(self.lost)

    def _fenced_write(self, why: str) -> None:
        self.refused_writes += 1
        self._lose(why)

    def _lose(self, why: str) -> None:
        with self._lock:
            if self.lost:
                return
            self.lost = why
        log.critical("lost the lease: %s. This instance stops: it writes and sends nothing more", why)
        self.on_lost(why)

    # --- letting it go --------------------------------------------------------------------------

    def release(self) -> None:
        """A graceful stop: a standby may take over at once. Never raises."""
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join(timeout=self.renew_every_s * 2)
        held = self.held
        if held is not None and not self.lost:
            try:
                with self.engine.begin() as connection:
                    leases.release(connection, held, now=self.clock.now_ms())
            except Exception as error:  # a lease not released expires all the same
                log.error("the lease was not released (it expires in %.0fs): %s", self.lease_ms / 1000, error)
        self._release_locks(self._held_locks)
        self._held_locks = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
