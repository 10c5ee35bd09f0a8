"""The inbox cursor: saved in the database, never past a line whose decision is not known, resumed after a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from actors.signals.cursor import NAME_LIMIT, InboxCursor, InboxLedger, cursor_name, load_cursor, save_cursor
from persistence import records
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.tables import SERVICE_STATE

NOW = 1_700_000_000_000


def line(signal_id: str) -> str:
    return json.dumps({"symbol": "BTCUSDT", "side": "LONG", "confidence": 0.72, "id": signal_id}) + "\n"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'trader.db'}")
    upgrade(engine)
    return engine


def test_ledger_cursor_stops_before_lines_handed_on_until_they_are_settled(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    path.write_text(line("a") + line("b") + line("c"))
    ledger = InboxLedger(path, None)
    lines = ledger.poll(NOW).lines
    ledger.hand_on(lines[1:])  # "a" settled here (say, too old); "b" and "c" go on to be decided
    cursor = ledger.to_save()
    assert cursor is not None
    assert (cursor.position.offset, cursor.position.line) == (len(line("a")), 1)
    assert (cursor.read_to, cursor.read_at) == (path.stat().st_size, NOW)
    ledger.saved_as(cursor)
    assert ledger.to_save() is None  # unchanged: nothing to write
    ledger.hand_on(())  # their decisions are in
    settled = ledger.to_save()
    assert settled is not None and settled.position.offset == path.stat().st_size == settled.read_to


def test_cursor_saved_and_loaded_resumes_with_the_lines_read_before(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "inbox.jsonl"
    path.write_text(line("a") + json.dumps({"symbol": "BTCUSDT", "side": "LONG", "confidence": 0.9}) + "\n")
    ledger = InboxLedger(path, None)
    lines = ledger.poll(NOW).lines
    ledger.hand_on(lines[1:])
    cursor = ledger.to_save()
    assert cursor is not None
    name = cursor_name(path)
    with engine.begin() as connection:
        save_cursor(connection, name, cursor, NOW)
    with engine.begin() as connection:
        loaded = load_cursor(connection, name)
    assert loaded == cursor
    again = InboxLedger(path, loaded).poll(NOW + 600_000).lines
    assert [entry.signal.id for entry in again] == [lines[1].signal.id]
    assert again[0].reread and again[0].signal.at == NOW  # its time is its first reading, not the restart's


def test_cursor_name_is_the_resolved_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cursor_name(Path("inbox.jsonl")) == cursor_name(tmp_path.resolve() / "inbox.jsonl")
    assert cursor_name(Path("/srv/qt/inbox.jsonl")) == "inbox:/srv/qt/inbox.jsonl"  # as saved before: unchanged


def test_cursor_name_of_a_long_path_fits_the_column_and_names_that_path_alone() -> None:
    deep = Path("/", *(["a-directory-name-that-is-long"] * 4))
    names = {cursor_name(deep / "x" / "inbox.jsonl"), cursor_name(deep / "y" / "inbox.jsonl")}
    assert len(names) == 2
    assert all(len(name) == NAME_LIMIT == SERVICE_STATE.c.name.type.length for name in names)  # type: ignore[attr-defined]
    assert all(name.startswith("inbox:") and name.endswith("/inbox.jsonl") for name in names)


def test_cursor_of_an_inbox_with_a_long_path_saved_and_loaded_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path.joinpath(*(["a-directory-name-that-is-long"] * 3), "inbox.jsonl")
    path.parent.mkdir(parents=True)
    path.write_text(line("a"))
    ledger = InboxLedger(path, None)
    ledger.hand_on(ledger.poll(NOW).lines)
    cursor = ledger.to_save()
    assert cursor is not None
    engine = make_engine(pg_url)
    try:
        upgrade(engine)
        with engine.begin() as connection:
            save_cursor(connection, cursor_name(path), cursor, NOW)
        with engine.begin() as connection:
            assert load_cursor(connection, cursor_name(path)) == cursor
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "value",
    [
        "text",
        {"device": 1},
        {"device": 1, "inode": 2, "offset": -1, "line": 0, "read_to": 0, "read_at": 0, "head": "", "skipping": False},
        {"device": 1, "inode": 2, "offset": 0, "line": 0, "read_to": 0, "read_at": True, "head": "", "skipping": False},
        {"device": 1, "inode": 2, "offset": 0, "line": 0, "read_to": 0, "read_at": 0, "head": None, "skipping": False},
    ],
)
def test_cursor_from_value_not_a_cursor_raises(value: object) -> None:
    with pytest.raises(ValueError):
        InboxCursor.from_value(value)


def test_load_cursor_unreadable_row_reads_from_the_start(engine: Engine) -> None:
    with engine.begin() as connection:
        records.save_state(connection, "inbox:/x", {"offset": "ten"}, NOW)
    with engine.begin() as connection:
        assert load_cursor(connection, "inbox:/x") is None
        assert load_cursor(connection, "inbox:/never-saved") is None
