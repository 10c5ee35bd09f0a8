"""One running instance per database, and one trader per exchange account on this host: exclusive locks on files.

The instance lock sits beside a SQLite database. On a server database (PostgreSQL) it is a session-level advisory
lock on the database and schema, held by a connection of its own: however the URL is spelled and from whichever
host, one lock; and it goes with the connection if the process dies. The account lock sits in one directory of the host
(`<temp dir>/quantum-trader-locks`, an absolute path whatever the database), named by the account key, so that
two databases on one host cannot trade one Binance account. The key is the venue and a hash of the API key (never
the key); a paper account lives in its database, so its instance lock is its account lock."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from config import ExchangeKind, Settings
from config.redaction import redact_url
from exchange.binance.endpoints import binance_endpoints
from persistence.db import DatabaseUnavailable, sqlite_path


class AlreadyRunning(Exception):
    def __init__(self, message: str, holder: str = "") -> None:
        super().__init__(message)
        found = _PID.search(holder)
        self.holder_pid = int(found.group(1)) if found else None  # the holder's pid, when its lock says it


_PID = re.compile(r"(?:^|pid )(\d+)")


def lock_path(url: str) -> Path | None:
    """The lock file beside a SQLite database; None for a server database (its lock is an advisory lock)."""
    path = sqlite_path(url)
    return None if path is None else path.with_name(path.name + ".lock")


APPLICATION = "quantum-trader"  # the lock connection's application_name: "quantum-trader pid N"


def _server_lock_key(connection: Connection) -> int:
    """The advisory lock's key: this database and schema, as the server names them (not as the URL spells them)."""
    # A schema not made yet has no current_schema(): its search path names it.
    where = connection.execute(
        text("SELECT current_database() || '.' || coalesce(current_schema(), current_setting('search_path'))")
    ).scalar_one()
    return int.from_bytes(hashlib.sha256(f"{APPLICATION}:{where}".encode()).digest()[:8], "big", signed=True)


def _connect(url: str) -> Connection:
    """A connection of the lock's own; an unreachable server raises as any failure to open the database does."""
    engine = create_engine(
        url, poolclass=NullPool, connect_args={"application_name": f"{APPLICATION} pid {os.getpid()}"}
    )
    return engine.connect()


def _server_holder(connection: Connection, key: int) -> str:
    """Who holds the advisory lock (its connection's application_name), as well as the server can tell."""
    found = connection.execute(
        text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND ((l.classid::bigint << 32) | l.objid::bigint) = (:key & x'ffffffffffffffff'::bigint)"
        ),
        {"key": key},
    ).scalar()
    return str(found) if found else "another process"


def _hold_file(path: Path, written: str, *, what: str, refused: Callable[[str], str]) -> int:
    """An exclusive lock on the file at `path` (made if missing), which then says `written`; its descriptor.
    Raises `AlreadyRunning` with `refused(what the holder wrote)`, `DatabaseUnavailable` if it cannot be made."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise DatabaseUnavailable(
            f"{path.parent}: cannot hold the {what} there ({error.strerror}): "
            "is it an existing directory this user may write to?"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise AlreadyRunning(refused(holder), holder) from None
    os.ftruncate(fd, 0)
    os.write(fd, written.encode())
    return fd


class _Held:
    """A lock held for the life of the process; the kernel (a file) or the server (a session) releases it if the
    process dies, even by SIGKILL."""

    def __init__(self) -> None:
        self._fd: int | None = None
        self._session: Connection | None = None

    def acquire(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._session is not None:
            self._session.close()  # the session's advisory lock goes with it
            self._session = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class InstanceLock(_Held):
    """One running instance per database."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.path = lock_path(url)

    def acquire(self) -> None:
        """Raises `AlreadyRunning` while another process holds it, `DatabaseUnavailable` if it cannot be made."""
        path = self.path
        if path is None:
            self._acquire_on_server()
            return
        self._fd = _hold_file(
            path,
            str(os.getpid()),
            what="instance lock",
            refused=lambda holder: f"another Quantum Trader (pid {holder}) is running on this database ({path})",
        )

    def _acquire_on_server(self) -> None:
        session = _connect(self.url)
        try:
            key = _server_lock_key(session)
            got = session.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one()
            if not got:
                holder = _server_holder(session, key)
                raise AlreadyRunning(f"another Quantum Trader ({holder}) is running on this database", holder)
            session.commit()  # a session-level lock outlives the transaction; no transaction is left open
        except BaseException:
            session.close()
            raise
        self._session = session


def account_key(settings: Settings, database_id: str) -> str:
    """Which exchange account the settings trade: the venue, its REST root and a hash of the API key (never the
    key); a paper account lives in its database, so it is named by the database's own id."""
    exchange = settings.exchange
    if exchange.kind is not ExchangeKind.BINANCE or exchange.api_key is None:
        return f"paper account of database {database_id}"
    base_url, _ = binance_endpoints(exchange)
    key_hash = hashlib.sha256(exchange.api_key.get_secret_value().encode()).hexdigest()[:16]
    return f"binance at {base_url}, API key sha256 {key_hash}"


def account_lock_path(key: str) -> Path:
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / "quantum-trader-locks" / f"account-{digest}.lock"


class AccountLock(_Held):
    """One trader of an account on this host: a file named by the account key in one directory of the host (an
    absolute path whatever the database), so that two databases on one host cannot trade one account."""

    def __init__(self, key: str, database_url: str) -> None:
        super().__init__()
        self.key = key
        self.database = redact_url(database_url)

    def acquire(self) -> None:
        """Raises `AlreadyRunning` while another process on this host trades the same account."""
        key = self.key
        path = account_lock_path(key)
        with contextlib.suppress(OSError):  # if it cannot be made, opening the file there says so
            path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = _hold_file(
            path,
            f"pid {os.getpid()}, database {self.database}",
            what="account lock",
            refused=lambda holder: (
                f"another Quantum Trader ({holder}) is trading this account ({key}): one account, one trader"
            ),
        )


class ServerAccountLock(_Held):
    """On a server database, a session-level advisory lock on the account key: it goes with the owner's connection,
    so a standby knows at once that the owner's process (or its host) is gone."""

    def __init__(self, key: str, database_url: str) -> None:
        super().__init__()
        self.key = key
        self.url = database_url

    def acquire(self) -> None:
        session = _connect(self.url)
        try:
            key = int.from_bytes(hashlib.sha256(f"{APPLICATION}:{self.key}".encode()).digest()[:8], "big", signed=True)
            if not session.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one():
                holder = _server_holder(session, key)
                raise AlreadyRunning(f"another Quantum Trader ({holder}) is trading this account ({self.key})", holder)
            session.commit()
        except BaseException:
            session.close()
            raise
        self._session = session


def owner_locks(key: str, database_url: str) -> list[_Held]:
    """What the owner of an account's lease holds besides the lease, each released by the system when its process
    dies: the instance lock of the database, the host's account lock, and on a server the account's advisory lock.
    A process that can take all of them knows the previous owner is gone."""
    held: list[_Held] = [InstanceLock(database_url), AccountLock(key, database_url)]
    if sqlite_path(database_url) is None:
        held.append(ServerAccountLock(key, database_url))
    return held


def service_running(url: str) -> bool:
    """True while some process holds the instance lock of this database."""
    if sqlite_path(url) is None:
        try:
            session = _connect(url)
        except SQLAlchemyError:
            return False  # nothing runs on a database nobody can reach
        try:
            key = _server_lock_key(session)
            if session.execute(text("SELECT pg_try_advisory_lock_shared(:key)"), {"key": key}).scalar_one():
                session.execute(text("SELECT pg_advisory_unlock_shared(:key)"), {"key": key})
                return False
            return True
        finally:
            session.close()
    path = lock_path(url)
    if path is None or not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
