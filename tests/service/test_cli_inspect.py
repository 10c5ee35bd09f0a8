"""Inspection commands: read-only, beside a writing process, and clear about bad databases."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from persistence.store import Store
from service.cli import app
from state_machines import gate_machine, position_machine
from tests.conftest import position_values

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


@pytest.fixture
def traded_db(store: Store, db_path: Path) -> Path:
    """Two positions (one closed by its stop) and a locked gate."""
    machine, gates = position_machine(), gate_machine()
    store.ensure_gate(at=1_700_000_000_000)
    first = store.create_position(machine, position_values(1), reason="signal BTCUSDT-1", at=1_700_000_001_000)
    store.fire(machine, first, "submit", reason="entry sent", at=1_700_000_002_000)
    store.fire(machine, first, "entry_filled", reason="filled", at=1_700_000_003_000, price="42000.5")
    store.fire(
        machine,
        first,
        "exit_filled",
        reason="stop-loss filled",
        at=1_700_000_004_000,
        changes={"close_reason": "stop-loss"},
    )
    store.create_position(
        machine, position_values(2, symbol="ETHUSDT"), reason="signal ETHUSDT-2", at=1_700_000_005_000
    )
    gate = store.load(position_machine(), gates).gate
    assert gate is not None
    store.fire(
        gates, gate, "lock", reason="daily drawdown -2.60%", at=1_700_000_006_000, locked_until=1_700_006_400_000
    )
    return db_path


def test_positions_json_lists_every_position_with_state(traded_db: Path) -> None:
    result = invoke("positions", "--db", str(traded_db), "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["id"], r["symbol"], r["state"], r["close_reason"]) for r in rows] == [
        ("pos-1", "BTCUSDT", "closed", "stop-loss"),
        ("pos-2", "ETHUSDT", "pending_entry", None),
    ]
    assert rows[0]["quantity"] == "0.010"


def test_positions_show_what_is_still_held_after_a_partial_take_profit(store: Store, db_path: Path) -> None:
    machine = position_machine()
    store.ensure_gate(at=1_700_000_000_000)
    position = store.create_position(machine, position_values(1), reason="signal", at=1_700_000_001_000)
    store.fire(machine, position, "submit", reason="sent", at=1_700_000_002_000)
    store.fire(
        machine,
        position,
        "entry_filled",
        reason="filled",
        at=1_700_000_003_000,
        changes={"filled_quantity": Decimal("0.010"), "entry_price": Decimal("42000")},
    )
    store.fire(
        machine,
        position,
        "partial_take_profit",
        reason="partial",
        at=1_700_000_004_000,
        changes={"details": json.dumps({"closed": "0.004"})},
    )
    [row] = json.loads(invoke("positions", "--db", str(db_path), "--json").stdout)
    assert (row["state"], row["filled_quantity"], row["open_quantity"]) == ("partially_closed", "0.010", "0.006")


def test_positions_open_and_symbol_filters_narrow_the_list(traded_db: Path) -> None:
    open_rows = json.loads(invoke("positions", "--db", str(traded_db), "--open", "--json").stdout)
    assert [r["id"] for r in open_rows] == ["pos-2"]
    btc = json.loads(invoke("positions", "--db", str(traded_db), "--symbol", "btcusdt", "--json").stdout)
    assert [r["id"] for r in btc] == ["pos-1"]


def test_positions_table_output_is_readable(traded_db: Path) -> None:
    result = runner.invoke(app, ["positions", "--db", str(traded_db)], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    assert "2 position(s)" in result.stdout and "pending_entry" in result.stdout and "ETHUSDT" in result.stdout


def test_transitions_for_one_position_in_order_with_payload(traded_db: Path) -> None:
    rows = json.loads(invoke("transitions", "--db", str(traded_db), "--position", "pos-1", "--json").stdout)
    assert [(r["from"], r["to"], r["trigger"]) for r in rows] == [
        (None, "pending_entry", "create"),
        ("pending_entry", "entry_submitted", "submit"),
        ("entry_submitted", "open", "entry_filled"),
        ("open", "closed", "exit_filled"),
    ]
    assert rows[2]["payload"] == {"price": "42000.5"}
    assert rows[3]["at"] == "2023-11-14T22:13:24.000Z"


def test_transitions_gate_since_and_limit(traded_db: Path) -> None:
    gate_rows = json.loads(invoke("transitions", "--db", str(traded_db), "--machine", "gate", "--json").stdout)
    assert [(r["to"], r["reason"]) for r in gate_rows] == [("open", "first start"), ("locked", "daily drawdown -2.60%")]
    recent = json.loads(
        invoke("transitions", "--db", str(traded_db), "--since", "2023-11-14T22:13:24Z", "--json").stdout
    )
    assert [r["trigger"] for r in recent] == ["exit_filled", "create", "lock"]
    last_two = json.loads(invoke("transitions", "--db", str(traded_db), "--limit", "2", "--json").stdout)
    assert [r["trigger"] for r in last_two] == ["create", "lock"]


@pytest.mark.parametrize(
    "since",
    [
        "yesterday-ish",
        "99999999999999999999",  # epoch ms beyond any date (and beyond SQLite's integers)
        "999999999d",  # further back than the calendar goes
        "9999999999999s",
        "9999-12-31T23:59:59-05:00",  # a valid ISO date whose UTC instant is past year 9999
        "\u00b2",  # a digit to str.isdigit, not to int()
    ],
)
def test_transitions_bad_since_is_a_clear_error(traded_db: Path, since: str) -> None:
    result = invoke("transitions", "--db", str(traded_db), "--since", since)
    assert result.exit_code == 2, result.output
    assert "not a time: use ISO 8601" in result.stderr
    assert "Traceback" not in result.output


def test_transitions_since_epoch_zero_lists_everything(traded_db: Path) -> None:
    rows = json.loads(invoke("transitions", "--db", str(traded_db), "--since", "0", "--json").stdout)
    assert len(rows) == 7


def test_gate_shows_lock_reason_and_end(traded_db: Path) -> None:
    row = json.loads(invoke("gate", "--db", str(traded_db), "--json").stdout)
    assert row == {
        "state": "locked",
        "reason": "daily drawdown -2.60%",
        "locked_until": "2023-11-15T00:00:00.000Z",
        "updated_at": "2023-11-14T22:13:26.000Z",
        "seq": 2,
    }
    human = invoke("gate", "--db", str(traded_db))
    assert "locked" in human.stdout and "daily drawdown" in human.stdout


@pytest.mark.parametrize("command", [["positions"], ["transitions"], ["gate"]])
def test_inspection_on_missing_file_exits_2_and_creates_nothing(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "absent.db"
    result = invoke(*command, "--db", str(missing))
    assert result.exit_code == 2
    assert "no such database file" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_inspection_on_foreign_file_exits_2(tmp_path: Path) -> None:
    foreign = tmp_path / "notes.db"
    foreign.write_text("not a database at all\n")
    result = invoke("positions", "--db", str(foreign))
    assert result.exit_code == 2 and "not a SQLite database" in result.stderr


def test_inspection_on_unrelated_sqlite_file_exits_2(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    import sqlite3

    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE things (id INTEGER)")
    result = invoke("gate", "--db", str(other))
    assert result.exit_code == 2 and "not a Quantum Trader database" in result.stderr


WRITER = textwrap.dedent(
    """
    import sys
    from persistence.db import make_engine
    from persistence.store import Store
    from state_machines import position_machine
    from tests.conftest import position_values
    store = Store(make_engine("sqlite:///" + sys.argv[1]))
    machine = position_machine()
    index = 0
    while True:
        index += 1
        model = store.create_position(machine, position_values(index), reason="writer", at=index)
        store.fire(machine, model, "submit", reason="sent", at=index)
        if index == 1:
            print("ready", flush=True)
        if sys.stdin.readline().strip() != "more":
            break
    """
)


def test_inspection_reads_while_another_process_writes(store: Store, db_path: Path) -> None:
    store.close()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db_path)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdin is not None
        assert writer.stdout.readline().strip() == "ready"
        seen = []
        for _ in range(5):
            writer.stdin.write("more\n")
            writer.stdin.flush()
            result = invoke("transitions", "--db", str(db_path), "--json")
            assert result.exit_code == 0, result.output
            seen.append(len(json.loads(result.stdout)))
        assert seen == sorted(seen) and seen[0] >= 2
    finally:
        if writer.stdin:
            writer.stdin.close()
        writer.wait(timeout=30)
    assert writer.returncode == 0
    final = json.loads(invoke("positions", "--db", str(db_path), "--json").stdout)
    assert len(final) >= 5


def test_inspection_takes_no_write_lock(traded_db: Path) -> None:
    """A writer holding a write transaction does not block readers, and readers never block it."""
    import sqlite3

    writer = sqlite3.connect(traded_db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        result = invoke("positions", "--db", str(traded_db), "--json")
        assert result.exit_code == 0 and len(json.loads(result.stdout)) == 2
        writer.execute("UPDATE gate SET reason = 'still writable'")
    finally:
        writer.execute("COMMIT")
        writer.close()
