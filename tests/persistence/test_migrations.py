"""Migrations: an empty database upgrades to head, and the models match the migrated schema."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from persistence.db import make_engine
from persistence.migrate import current_revision, downgrade, head_revision, upgrade
from persistence.models import Base


def test_upgrade_of_empty_database_reaches_head_with_every_table(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}


def test_models_match_migrated_schema(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'schema.db'}")
    upgrade(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_downgrade_to_base_then_upgrade_again_round_trips(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'round.db'}")
    upgrade(engine)
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_sqlite_connections_use_wal_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with engine.connect() as connection:
        pragmas = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 5000}


def test_upgrade_of_a_database_made_by_the_previous_revision_keeps_its_rows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO heartbeat (id, pid, started_at, at, version) VALUES ('service', 42, 1, 2, '0.0.9')"
        )
        connection.exec_driver_sql(
            "INSERT INTO transitions (machine, entity_id, seq, source, dest, trigger, reason, payload, at) "
            "VALUES ('gate', 'global', 1, '', 'open', 'create', 'first start', '{}', 1)"
        )
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT pid, prices FROM heartbeat").one() == (42, "{}")
        assert connection.exec_driver_sql("SELECT count(*) FROM transitions").scalar() == 1


def test_sqlite_baseline_with_real_times_upgrades_to_head_keeping_them(tmp_path: Path) -> None:
    now_ms = 1_795_000_000_000  # past 2^31: SQLite stores it whole in a column declared INTEGER
    engine = make_engine(f"sqlite:///{tmp_path / 'real-times.db'}")
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"INSERT INTO heartbeat (id, pid, started_at, at, version) VALUES ('service', 42, {now_ms}, {now_ms}, 'v')"
        )
        connection.exec_driver_sql(
            "INSERT INTO gate (id, state, seq, reason, locked_until, updated_at) "
            f"VALUES ('global', 'open', 1, '', {now_ms + 1}, {now_ms})"
        )
        connection.exec_driver_sql(
            "INSERT INTO transitions (machine, entity_id, seq, source, dest, trigger, reason, payload, at) "
            f"VALUES ('gate', 'global', 1, '', 'open', 'create', 'first start', '{{}}', {now_ms})"
        )
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.begin() as connection:
        assert connection.exec_driver_sql("SELECT started_at, at FROM heartbeat").one() == (now_ms, now_ms)
        assert connection.exec_driver_sql("SELECT locked_until FROM gate").scalar() == now_ms + 1
        assert connection.exec_driver_sql("SELECT id, at FROM transitions").one() == (1, now_ms)
        connection.exec_driver_sql(
            "INSERT INTO transitions (machine, entity_id, seq, source, dest, trigger, reason, payload, at) "
            f"VALUES ('gate', 'global', 2, 'open', 'halted', 'halt', 'why', '{{}}', {now_ms + 2})"
        )
        assert connection.exec_driver_sql("SELECT max(id) FROM transitions").scalar() == 2
