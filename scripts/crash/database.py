"""The service's database, read only, as the checks and the waits see it: SQLite or PostgreSQL, through SQLAlchemy.

Each read takes a connection of its own and gives it back at once: no transaction stays open between reads, so
every read sees what the service has committed so far, and no lock held here stands in the way of the service's
migration when it starts again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, RowMapping, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from persistence.db import DatabaseUnavailable, open_read_only
from persistence.loading import load_machines
from scripts.crash.scenario import PREFIX
from state_machines import gate_machine, position_machine

# Every entity (final positions too): its state and seq beside those of its last transition.
ENTITY_VS_LAST_TRANSITION = """
    SELECT e.id, e.state, e.seq, t.dest, t.seq AS tseq FROM {table} e
    LEFT JOIN transitions t ON t.machine = :machine AND t.entity_id = e.id
      AND t.seq = (SELECT MAX(seq) FROM transitions x WHERE x.machine = :machine AND x.entity_id = e.id)
"""


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None

    def engine(self) -> Engine:
        """Opened on first use: before the service's first start there may be nothing to open yet."""
        if self._engine is None:
            self._engine = open_read_only(self.url)
        return self._engine

    def _all(self, sql: str, **params: Any) -> Sequence[RowMapping]:
        with self.engine().connect() as connection:
            return connection.execute(text(sql), params).mappings().all()

    def _one(self, sql: str, **params: Any) -> RowMapping | None:
        rows = self._all(sql, **params)
        return rows[0] if rows else None

    def heartbeat(self) -> tuple[int, dict[str, str]] | None:
        """The service's last heartbeat; None while there is no migrated database to read yet."""
        try:
            row = self._one("SELECT at, prices FROM heartbeat")
        except (DatabaseUnavailable, OperationalError, ProgrammingError):
            return None
        return None if row is None else (int(row["at"]), json.loads(row["prices"] or "{}"))

    def client_prefix(self) -> str:
        """What the service's client order ids start with: the configured prefix and the database's salt."""
        row = self._one("SELECT value FROM service_state WHERE name = 'client-id-salt'")
        return PREFIX + (json.loads(row["value"]) if row is not None else "")

    def positions(self) -> Sequence[RowMapping]:
        return self._all("SELECT * FROM positions ORDER BY created_at, id")

    def last_transition_at(self, entity_id: str) -> int:
        """Wall ms of the entity's last transition (0: none)."""
        row = self._one("SELECT MAX(at) AS at FROM transitions WHERE entity_id = :entity_id", entity_id=entity_id)
        return int(row["at"] or 0) if row is not None else 0

    def gate(self) -> RowMapping | None:
        return self._one("SELECT state, reason, locked_until, seq FROM gate")

    def all_entity_mismatches(self) -> list[str]:
        """Every entity (final positions too): state and seq against its last transition."""
        found = []
        for table, machine in (("positions", "position"), ("gate", "gate")):
            for r in self._all(ENTITY_VS_LAST_TRANSITION.format(table=table), machine=machine):
                if r["dest"] != r["state"] or r["tseq"] != r["seq"]:
                    found.append(_entity_mismatch(machine, r))
        return found

    def load_machines_mismatches(self) -> list[str]:
        """What the service's own start-up check (`load_machines`) finds against the audit trail."""
        with self.engine().connect() as connection:
            loaded = load_machines(connection, position_machine(), gate_machine())
        return [m.describe() for m in loaded.mismatches]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _entity_mismatch(machine: str, r: RowMapping) -> str:
    last = f"last transition to {r['dest']!r} seq {r['tseq']}"
    return f"{machine} {r['id']}: state {r['state']!r} seq {r['seq']}, {last}"
