"""The service's database, read only, as the checks and the waits see it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from persistence.db import open_read_only
from persistence.loading import load_machines
from scripts.crash.scenario import PREFIX
from state_machines import gate_machine, position_machine


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10, check_same_thread=False)
            self._conn.row_factory = sqlite3.Row
        return self._conn

    def heartbeat(self) -> tuple[int, dict[str, str]] | None:
        try:
            row = self.conn().execute("SELECT at, prices FROM heartbeat").fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None else (int(row["at"]), json.loads(row["prices"] or "{}"))

    def client_prefix(self) -> str:
        """What the service's client order ids start with: the configured prefix and the database's salt."""
        row = self.conn().execute("SELECT value FROM service_state WHERE name = 'client-id-salt'").fetchone()
        return PREFIX + (json.loads(row["value"]) if row is not None else "")

    def positions(self) -> list[sqlite3.Row]:
        return self.conn().execute("SELECT * FROM positions ORDER BY created_at, id").fetchall()

    def last_transition_at(self, entity_id: str) -> int:
        """Wall ms of the entity's last transition (0: none)."""
        row = self.conn().execute("SELECT MAX(at) FROM transitions WHERE entity_id = ?", (entity_id,)).fetchone()
        return int(row[0] or 0)

    def gate(self) -> sqlite3.Row | None:
        return self.conn().execute("SELECT state, reason, locked_until, seq FROM gate").fetchone()

    def all_entity_mismatches(self) -> list[str]:
        """Every entity (final positions too): state and seq against its last transition."""
        found = []
        for table, machine in (("positions", "position"), ("gate", "gate")):
            rows = (
                self.conn()
                .execute(
                    f"""
                SELECT e.id, e.state, e.seq, t.dest, t.seq AS tseq FROM {table} e
                LEFT JOIN transitions t ON t.machine = ? AND t.entity_id = e.id
                  AND t.seq = (SELECT MAX(seq) FROM transitions x WHERE x.machine = ? AND x.entity_id = e.id)
            """,
                    (machine, machine),
                )
                .fetchall()
            )
            for r in rows:
                if r["dest"] != r["state"] or r["tseq"] != r["seq"]:
                    found.append(
                        f"{machine} {r['id']}: state {r['state']!r} seq {r['seq']}, last transition "
                        f"to {r['dest']!r} seq {r['tseq']}"
                    )
        return found

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def load_machines_mismatches(db_path: Path) -> list[str]:
    engine = open_read_only(f"sqlite:///{db_path}")
    try:
        with engine.connect() as connection:
            loaded = load_machines(connection, position_machine(), gate_machine())
        return [m.describe() for m in loaded.mismatches]
    finally:
        engine.dispose()
