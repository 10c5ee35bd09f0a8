"""The operator's halt and resume: queued for a running service through the database (it applies them within a
cycle and records the outcome), or applied directly when none runs. The CLI and the HTTP API both send them here."""

from __future__ import annotations

import time

from sqlalchemy import Engine, select

from actors.clock import WallClock
from persistence import records
from persistence.db import make_engine, open_read_only
from persistence.migrate import upgrade
from persistence.operator import apply_gate_command
from persistence.store import Store
from persistence.tables import OPERATOR_COMMANDS
from service.lock import AlreadyRunning, InstanceLock
from state_machines import gate_machine

COMMAND_WAIT_S = 30.0


def send(url: str, command: str, reason: str) -> str:
    """Halt or resume the gate of the database at `url`; what happened, in words for the operator."""
    open_read_only(url).dispose()  # the same clear errors as every command for a missing or foreign file
    engine = make_engine(url)
    try:
        lock = InstanceLock(url)
        try:
            lock.acquire()
        except AlreadyRunning:
            return through_service(engine, command, reason)
        try:
            return _apply_directly(engine, command, reason)
        finally:
            lock.release()
    finally:
        engine.dispose()


def _apply_directly(engine: Engine, command: str, reason: str) -> str:
    upgrade(engine)
    store = Store(engine)
    try:
        store.ensure_gate(at=WallClock().now_ms())
        machine = gate_machine()
        gate, _ = store.load_gate(machine)
        assert gate is not None
        return apply_gate_command(store, machine, gate, command, reason, WallClock().now_ms())
    finally:
        store.close()


def through_service(engine: Engine, command: str, reason: str, wait_s: float = COMMAND_WAIT_S) -> str:
    """Queue the command for the running service and wait (at most `wait_s`) for the outcome it records."""
    with engine.begin() as connection:
        command_id = records.add_operator_command(connection, command=command, reason=reason, at=WallClock().now_ms())
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            outcome = connection.execute(
                select(OPERATOR_COMMANDS.c.outcome).where(OPERATOR_COMMANDS.c.id == command_id)
            ).scalar()
        if outcome is not None:
            return f"{outcome} (applied by the running service)"
        time.sleep(0.2)  # the service applies operator commands once per cycle
    return f"queued as command {command_id}; the running service has not applied it within {wait_s:.0f}s"
