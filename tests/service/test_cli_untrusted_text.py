"""Text from the database or the operator is shown as written: never Rich markup, never a terminal control code."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from persistence.store import Store
from service.cli import app
from state_machines import position_machine
from tests.conftest import position_values

runner = CliRunner()
WIDE = {"COLUMNS": "400"}  # no folding of cells: each text is looked for whole

# An inbox signal id as the issue found it, a reason that tries to colour the terminal and forge a second line,
# and an operator's reason that tries to clear the screen and set the terminal's title.
SIGNAL_ID = "evil[/]"
REASON = f"signal {SIGNAL_ID} [bold red]x[/] \x1b[31mred\nforged line"
CLOSE_REASON = "[link=http://x]stop[/link] :warning:\x1b[0m"
OPERATOR_REASON = "[red]stop[/red] \x1b[2J\x1b]0;pwned\x07\rbell"


@pytest.fixture
def hostile_db(store: Store, db_path: Path) -> Path:
    machine = position_machine()
    store.ensure_gate(at=1_700_000_000_000)
    values = position_values(1) | {"id": SIGNAL_ID, "signal_id": SIGNAL_ID}
    position = store.create_position(machine, values, reason=REASON, at=1_700_000_001_000)
    store.fire(machine, position, "submit", reason="sent", at=1_700_000_002_000, changes={"close_reason": CLOSE_REASON})
    store.close()
    halt = runner.invoke(app, ["gate", "halt", "--db", str(db_path), "--reason", OPERATOR_REASON], env=WIDE)
    assert halt.exit_code == 0, halt.output
    assert_shown_safely(halt, "[red]stop[/red]")
    return db_path


def assert_shown_safely(result: Result, *literal: str) -> None:
    """Exit 0, each literal text shown as written, and no control character but the line ends reaches the screen."""
    output = result.stdout + result.stderr
    assert result.exit_code == 0, output
    for text in literal:
        assert text in output, output
    controls = sorted({c for c in output if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0})
    assert controls == [], output


def test_transitions_table_shows_markup_and_escapes_as_written(hostile_db: Path) -> None:
    result = runner.invoke(app, ["transitions", "--db", str(hostile_db)], env=WIDE)
    assert_shown_safely(result, SIGNAL_ID, "[bold red]x[/]", "\\x1b[31mred\\nforged line", "\\x1b[2J\\x1b]0;pwned")
    assert not any(line.lstrip("│ ").startswith("forged line") for line in result.stdout.splitlines())


def test_positions_table_shows_id_and_close_reason_as_written(hostile_db: Path) -> None:
    result = runner.invoke(app, ["positions", "--db", str(hostile_db)], env=WIDE)
    assert_shown_safely(result, SIGNAL_ID, "[link=http://x]stop[/link] :warning:\\x1b[0m")


def test_gate_table_shows_the_operator_reason_as_written(hostile_db: Path) -> None:
    result = runner.invoke(app, ["gate", "--db", str(hostile_db)], env=WIDE)
    assert_shown_safely(result, "operator: [red]stop[/red] \\x1b[2J\\x1b]0;pwned\\x07\\rbell")


def test_status_shows_gate_reason_and_position_as_written(hostile_db: Path) -> None:
    result = runner.invoke(app, ["status", "--db", str(hostile_db)], env=WIDE)
    assert_shown_safely(result, "operator: [red]stop[/red] \\x1b[2J", SIGNAL_ID)


def test_gate_halt_again_reports_the_stored_reason_as_written(hostile_db: Path) -> None:
    result = runner.invoke(app, ["gate", "halt", "--db", str(hostile_db), "--reason", "again"], env=WIDE)
    assert_shown_safely(result, "already halted (operator: [red]stop[/red] \\x1b[2J")


def test_recover_dry_run_shows_the_position_id_as_written(hostile_db: Path) -> None:
    result = runner.invoke(app, ["recover", "--dry-run", "--db", str(hostile_db)], env=WIDE)
    assert_shown_safely(result, SIGNAL_ID)


def test_error_message_with_markup_in_a_path_is_shown_as_written(tmp_path: Path) -> None:
    missing = tmp_path / "[bold]absent[/].db"
    result = runner.invoke(app, ["positions", "--db", str(missing)], env=WIDE)
    assert result.exit_code == 2
    assert "[bold]absent[/].db: no such database file" in result.stderr
