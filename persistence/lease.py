"""The account lease in the database: who trades an account, until when, and the fencing token.

One row per account key. Taking it is a compare-and-set on the token (so two takers never both win), and every
new owner gets a larger token. The owner renews the row before it expires; a process that finds the row expired
(or its owner's process gone) takes it over. Every commit of the owner checks, in the same transaction, that the
row still carries its token (`check`): an owner that was paused, partitioned or replaced writes nothing more.
On PostgreSQL the check reads the row `FOR SHARE`, so a takeover waits for a commit already checked; on SQLite a
transaction that wrote holds the database's one write lock, so no takeover can commit between check and commit.

Times are the callers' epoch milliseconds. Nothing here knows about threads or processes (service/lease.py does).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, event, insert, select, update

from persistence.tables import ACCOUNT_LEASE, LEASE_STANDBYS

DATABASE_ID = "database-id"  # the service_state row that names this database (and so its paper account)


@dataclass(frozen=True, slots=True)
class Owner:
    host: str
    pid: int
    instance: str

    def describe(self) -> str:
        return f"{self.host} pid {self.pid} (instance {self.instance})"


@dataclass(frozen=True, slots=True)
class Lease:
    account_key: str
    token: int
    owner: Owner
    acquired_at: int
    renewed_at: int
    expires_at: int

    def expired(self, now: int) -> bool:
        return now >= self.expires_at

    def describe(self, now: int) -> str:
        left = (self.expires_at - now) / 1000
        when = f"expires in {left:.1f}s" if left > 0 else f"expired {-left:.1f}s ago"
        renewed = (now - self.renewed_at) / 1000
        return f"held by {self.owner.describe()}, token {self.token}, renewed {renewed:.1f}s ago, {when}"


@dataclass(frozen=True, slots=True)
class Standby:
    owner: Owner
    since: int
    seen_at: int


class Fenced(Exception):
    """This process no longer holds the account's lease: it must not write or send anything more."""


def read(connection: Connection, account_key: str, *, for_share: bool = False) -> Lease | None:
    query = select(ACCOUNT_LEASE).where(ACCOUNT_LEASE.c.account_key == account_key)
    if for_share:
        query = query.with_for_update(read=True)  # PostgreSQL: FOR SHARE; SQLite renders nothing (see the module)
    row = connection.execute(query).mappings().first()
    if row is None:
        return None
    return Lease(
        account_key=row["account_key"],
        token=row["token"],
        owner=Owner(row["host"], row["pid"], row["instance"]),
        acquired_at=row["acquired_at"],
        renewed_at=row["renewed_at"],
        expires_at=row["expires_at"],
    )


def take(
    connection: Connection, account_key: str, owner: Owner, *, now: int, lease_ms: int, seen: Lease | None
) -> Lease | None:
    """Become the owner, with the next token, if the row is still `seen` (None: no row yet); None if another
    process changed it first (an insert that lost the race raises `IntegrityError` instead, rolling the caller's
    transaction back). The caller decides whether `seen` may be taken (expired, or its owner gone)."""
    token = 1 if seen is None else seen.token + 1
    values = {
        "token": token,
        "host": owner.host,
        "pid": owner.pid,
        "instance": owner.instance,
        "acquired_at": now,
        "renewed_at": now,
        "expires_at": now + lease_ms,
    }
    if seen is None:
        connection.execute(insert(ACCOUNT_LEASE).values(account_key=account_key, **values))
    else:
        moved = connection.execute(
            update(ACCOUNT_LEASE)
            .where(ACCOUNT_LEASE.c.account_key == account_key, ACCOUNT_LEASE.c.token == seen.token)
            .values(**values)
        )
        if moved.rowcount != 1:
            return None
    connection.execute(delete(LEASE_STANDBYS).where(LEASE_STANDBYS.c.instance == owner.instance))
    return Lease(account_key, token, owner, now, now, now + lease_ms)


def renew(connection: Connection, lease: Lease, *, now: int, lease_ms: int) -> Lease:
    """Extend the lease; raises `Fenced` if it has another token now (another process took it over)."""
    moved = connection.execute(
        update(ACCOUNT_LEASE)
        .where(ACCOUNT_LEASE.c.account_key == lease.account_key, ACCOUNT_LEASE.c.token == lease.token)
        .values(renewed_at=now, expires_at=now + lease_ms)
    )
    if moved.rowcount != 1:
        raise Fenced(lost_reason(lease, read(connection, lease.account_key), now))
    return Lease(lease.account_key, lease.token, lease.owner, lease.acquired_at, now, now + lease_ms)


def check(connection: Connection, account_key: str, token: int, *, now: int) -> None:
    """Raises `Fenced` unless the lease still carries `token`: called in every transaction of the owner."""
    current = read(connection, account_key, for_share=True)
    if current is None or current.token != token:
        raise Fenced(
            f"the lease on this account now has token {current.token if current else 'none'}, not ours ({token})"
            + (f": {current.describe(now)}" if current else "")
        )


def release(connection: Connection, lease: Lease, *, now: int) -> None:
    """Let a standby take over at once (a graceful stop): the lease expires now; the token stays."""
    connection.execute(
        update(ACCOUNT_LEASE)
        .where(ACCOUNT_LEASE.c.account_key == lease.account_key, ACCOUNT_LEASE.c.token == lease.token)
        .values(expires_at=now)
    )


def lost_reason(ours: Lease, current: Lease | None, now: int) -> str:
    if current is None:
        return f"the lease on this account (token {ours.token}) is gone from the database"
    return f"the lease on this account was taken over ({current.describe(now)}); ours had token {ours.token}"


def wait_as_standby(connection: Connection, account_key: str, owner: Owner, *, now: int) -> None:
    """Say (or say again) that `owner` waits to take the lease over."""
    moved = connection.execute(
        update(LEASE_STANDBYS).where(LEASE_STANDBYS.c.instance == owner.instance).values(seen_at=now)
    )
    if moved.rowcount == 0:
        connection.execute(
            insert(LEASE_STANDBYS).values(
                instance=owner.instance, account_key=account_key, host=owner.host, pid=owner.pid, since=now, seen_at=now
            )
        )


def leave_standby(connection: Connection, owner: Owner) -> None:
    connection.execute(delete(LEASE_STANDBYS).where(LEASE_STANDBYS.c.instance == owner.instance))


def standbys(connection: Connection, account_key: str | None = None) -> list[Standby]:
    query = select(LEASE_STANDBYS).order_by(LEASE_STANDBYS.c.since)
    if account_key is not None:
        query = query.where(LEASE_STANDBYS.c.account_key == account_key)
    return [
        Standby(Owner(row["host"], row["pid"], row["instance"]), row["since"], row["seen_at"])
        for row in connection.execute(query).mappings()
    ]


def leases(connection: Connection) -> list[Lease]:
    """Every account's lease in this database (one, unless the database was used with several account keys)."""
    keys = connection.execute(select(ACCOUNT_LEASE.c.account_key).order_by(ACCOUNT_LEASE.c.account_key)).scalars()
    return [lease for key in keys.all() if (lease := read(connection, key)) is not None]


_TOKENS: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()


def install_fence(engine: Engine, lease: Lease, now: Callable[[], int], on_fenced: Callable[[str], None]) -> None:
    """From now on every commit on `engine` first checks, in its transaction, that the lease still carries this
    token; if not, the transaction is rolled back, `on_fenced(why)` is called and `Fenced` raised to the writer.
    Transitions written through `engine` record the token (`token_of`)."""
    _TOKENS[engine] = lease.token

    def _check(connection: Connection) -> None:
        try:
            check(connection, lease.account_key, lease.token, now=now())
        except Fenced as error:
            # Raising from the commit event alone would leave the writes pending in the driver's transaction, for
            # the next commit to carry out: roll them back here first.
            connection.connection.dbapi_connection.rollback()  # type: ignore[union-attr]
            on_fenced(str(error))
            raise

    event.listen(engine, "commit", _check)


def token_of(engine: Engine) -> int | None:
    """The fencing token the writes through `engine` carry; None where no lease is held (a replay, a test)."""
    return _TOKENS.get(engine)
