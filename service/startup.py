"""Opening the live database at start: migrate, make sure the gate exists, rebuild the machines."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from persistence.db import make_engine
from persistence.loading import Loaded
from persistence.migrate import upgrade
from persistence.store import Store
from state_machines import StateMachine, gate_machine, position_machine


@dataclass(slots=True)
class OpenedDatabase:
    engine: Engine
    store: Store
    positions: StateMachine
    gate: StateMachine
    loaded: Loaded


def open_database(url: str, *, now_ms: int) -> OpenedDatabase:
    """Upgrade the schema, create the gate on first start, and load every non-final position."""
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine)
    store.ensure_gate(at=now_ms)
    positions, gate = position_machine(), gate_machine()
    loaded = store.load(positions, gate)
    return OpenedDatabase(engine, store, positions, gate, loaded)
