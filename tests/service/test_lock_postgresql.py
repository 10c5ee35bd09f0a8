"""The instance lock on PostgreSQL: a session-level advisory lock on the database and schema, whatever the URL's
spelling; released with its session. Against the server at 127.0.0.1:5432 (scripts/test.sh starts it)."""

from __future__ import annotations

import pytest

from service.lock import AlreadyRunning, InstanceLock, service_running

BY_ADDRESS = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BY_NAME = "postgresql+psycopg://postgres@localhost:5432/test?application_name=other-spelling"


def test_one_lock_per_database_however_the_url_is_spelled() -> None:
    first = InstanceLock(BY_ADDRESS)
    first.acquire()
    try:
        assert service_running(BY_NAME)
        with pytest.raises(AlreadyRunning, match=r"another Quantum Trader \(quantum-trader pid \d+\) is running"):
            InstanceLock(BY_NAME).acquire()
    finally:
        first.release()
    assert not service_running(BY_NAME)  # released with its session
    with InstanceLock(BY_NAME):  # and free for the next
        assert service_running(BY_ADDRESS)


def test_another_schema_is_another_database() -> None:
    with InstanceLock(BY_ADDRESS):
        other = f"{BY_ADDRESS}?options=-csearch_path%3Dpg_catalog"
        assert not service_running(other)
        with InstanceLock(other):
            assert service_running(other)
