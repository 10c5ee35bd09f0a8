"""The account lease in the database, on SQLite and PostgreSQL: taking it, renewing it, taking it over, and the fence
that refuses every commit of an owner that lost it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from persistence import lease
from persistence.db import make_engine
from persistence.lease import Fenced, Owner
from persistence.migrate import upgrade
from persistence.store import Store
from persistence.tables import TRANSITIONS
from state_machines import gate_machine

KEY = "paper account of database test"
LEASE_MS = 10_000
A = Owner("host-a", 101, "a" * 12)
B = Owner("host-b", 202, "b" * 12)


@pytest.fixture
def engines(any_db_url: str) -> Iterator[tuple[Engine, Engine]]:
    """Two processes' engines on one database: the owner's and the taker's."""
    first, second = make_engine(any_db_url), make_engine(any_db_url)
    upgrade(first)
    yield first, second
    first.dispose()
    second.dispose()


def _take(engine: Engine, owner: Owner, now: int) -> lease.Lease | None:
    with engine.begin() as connection:
        seen = lease.read(connection, KEY)
        return lease.take(connection, KEY, owner, now=now, lease_ms=LEASE_MS, seen=seen)


def test_the_first_taker_gets_token_1_and_every_new_owner_a_larger_one(engines: tuple[Engine, Engine]) -> None:
    first, second = engines
    taken = _take(first, A, now=1_000)
    assert taken is not None and taken.token == 1 and taken.expires_at == 11_000
    with first.begin() as connection:
        renewed = lease.renew(connection, taken, now=3_000, lease_ms=LEASE_MS)
    assert renewed.expires_at == 13_000 and renewed.token == 1
    again = _take(second, B, now=14_000)
    assert again is not None and again.token == 2 and again.owner == B
    with second.connect() as connection:
        assert lease.read(connection, KEY) == again


def test_two_takers_of_the_row_they_both_saw_one_wins(engines: tuple[Engine, Engine]) -> None:
    first, second = engines
    assert _take(first, A, now=1_000) is not None
    with first.connect() as connection:
        seen = lease.read(connection, KEY)
    with first.begin() as connection:
        won = lease.take(connection, KEY, B, now=20_000, lease_ms=LEASE_MS, seen=seen)
    with second.begin() as connection:
        lost = lease.take(connection, KEY, Owner("host-c", 303, "c" * 12), now=20_000, lease_ms=LEASE_MS, seen=seen)
    assert won is not None and won.token == 2
    assert lost is None


def test_an_owner_whose_lease_was_taken_over_cannot_renew_it(engines: tuple[Engine, Engine]) -> None:
    first, second = engines
    ours = _take(first, A, now=1_000)
    assert ours is not None
    assert _take(second, B, now=12_000) is not None
    with pytest.raises(Fenced, match=r"taken over .*host-b pid 202.*token 2.*ours had token 1"), first.begin() as c:
        lease.renew(c, ours, now=12_500, lease_ms=LEASE_MS)


def test_the_fence_rolls_back_every_commit_of_an_owner_that_lost_the_lease(engines: tuple[Engine, Engine]) -> None:
    first, second = engines
    ours = _take(first, A, now=1_000)
    assert ours is not None
    told: list[str] = []
    lease.install_fence(first, ours, lambda: 2_000, told.append)
    store = Store(first)
    try:
        store.ensure_gate(at=1_500)  # held: the commit goes through, and the transition carries our token
        with first.connect() as connection:
            assert connection.execute(select(TRANSITIONS.c.lease_token)).scalars().all() == [1]
        machine = gate_machine()
        gate, _ = store.load_gate(machine)
        assert gate is not None
        assert _take(second, B, now=12_000) is not None  # paused past the lease; another owner took it over

        with pytest.raises(Fenced, match="token 2, not ours"):
            store.fire(machine, gate, "halt", reason="from a paused owner", at=12_500)
    finally:
        store.close()
    assert told and "not ours (1)" in told[0]
    with second.connect() as connection:  # nothing of it reached the database, now or at a later commit
        assert connection.execute(select(TRANSITIONS.c.trigger)).scalars().all() == ["create"]
    assert gate.state == "open"  # and the in-memory machine was put back


def test_standbys_are_listed_until_they_take_over(engines: tuple[Engine, Engine]) -> None:
    first, second = engines
    assert _take(first, A, now=1_000) is not None
    with second.begin() as connection:
        lease.wait_as_standby(connection, KEY, B, now=1_500)
        lease.wait_as_standby(connection, KEY, B, now=2_500)
    with first.connect() as connection:
        [standby] = lease.standbys(connection, KEY)
    assert standby.owner == B and standby.since == 1_500 and standby.seen_at == 2_500
    assert _take(second, B, now=12_000) is not None
    with first.connect() as connection:
        assert lease.standbys(connection, KEY) == []


def test_a_released_lease_can_be_taken_at_once(engines: tuple[Engine, Engine]) -> None:
    first, second = engines
    ours = _take(first, A, now=1_000)
    assert ours is not None
    with first.begin() as connection:
        lease.release(connection, ours, now=2_000)
        assert lease.read(connection, KEY).expired(2_000)  # type: ignore[union-attr]
    assert _take(second, B, now=2_001) is not None
