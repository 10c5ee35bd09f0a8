"""Read-only commands: positions, transitions, gate, diagram."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from persistence.db import open_read_only
from service import inspection
from service.cli_common import (
    AccountOption,
    ConfigOption,
    DbOption,
    JsonOption,
    clean_errors,
    console,
    database_url,
    fail,
    print_json,
)
from service.columns import is_compact, short_id, short_number, short_time, table
from state_machines import TABLES
from state_machines.diagram import dot, mermaid_markdown


def positions(
    open_only: Annotated[bool, typer.Option("--open", help="Only positions that are not final.")] = False,
    symbol: Annotated[str | None, typer.Option("--symbol", help="Only this symbol, e.g. BTCUSDT.")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
    account: AccountOption = None,
) -> None:
    """List positions with their state, prices and PnL."""
    with clean_errors():
        engine = open_read_only(database_url(db, config, account))
        rows = inspection.positions(engine, open_only=open_only, symbol=symbol)
    if as_json:
        print_json(rows)
        return
    compact = is_compact(console)
    shown = table(f"{len(rows)} position(s)", compact)
    if compact:  # the stop and target a closed position no longer needs are left out; why it closed joins its state
        columns: tuple[str, ...] = ("id", "symbol", "side", "qty", "entry", "exit", "PnL")
    else:
        columns = ("id", "symbol", "side", "state", "qty", "entry", "stop", "take profit", "exit", "PnL")
    for column in columns:
        shown.add_column(column, no_wrap=True)
    shown.add_column("state" if compact else "why closed", overflow="fold", ratio=1)
    for row in rows:
        why = row["close_reason"] or ""
        if compact:
            shown.add_row(
                short_id(row["id"], compact),
                row["symbol"],
                row["side"],
                short_number(row["quantity"], compact),
                short_number(row["entry_price"], compact),
                short_number(row["exit_price"], compact),
                short_number(row["realized_pnl"], compact, places=2),
                f"{row['state']}: {why}" if why else row["state"],
            )
            continue
        shown.add_row(
            row["id"],
            row["symbol"],
            row["side"],
            row["state"],
            row["quantity"],
            row["entry_price"] or "-",
            row["stop_price"] or "-",
            row["take_profit_price"] or "-",
            row["exit_price"] or "-",
            row["realized_pnl"],
            why,
        )
    console.print(shown)


class MachineName(StrEnum):
    position = "position"
    gate = "gate"


def transitions(
    position: Annotated[
        str | None, typer.Option("--position", help="Only this position's transitions (its id, or the id's start).")
    ] = None,
    machine: Annotated[MachineName | None, typer.Option("--machine", help="Only this machine's transitions.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO 8601 time, 15m / 2h / 3d ago, or epoch ms.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the newest N rows.")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
    account: AccountOption = None,
) -> None:
    """The append-only audit trail of state changes, oldest first."""
    if position and machine is MachineName.gate:
        fail("--position and --machine gate exclude each other")
    with clean_errors():
        since_ms = inspection.parse_time(since, datetime.now(UTC)) if since else None
        engine = open_read_only(database_url(db, config, account))
        rows = inspection.transitions(
            engine,
            position=position,
            machine=machine.value if machine else None,
            since=since_ms,
            limit=limit,
        )
    if as_json:
        print_json(rows)
        return
    if is_compact(console):
        console.print(_compact_transitions(rows))
        return
    shown = Table(title=f"{len(rows)} transition(s)")
    for column in ("at", "machine", "entity", "seq", "from", "to", "trigger"):
        shown.add_column(column, no_wrap=True)  # a time or an id folded over two lines reads as two
    for column in ("reason", "payload"):
        shown.add_column(column, overflow="fold")
    for row in rows:
        payload = json.dumps(row["payload"], sort_keys=True) if row["payload"] else ""
        shown.add_row(
            row["at"],
            row["machine"],
            row["entity_id"],
            str(row["seq"]),
            row["from"] or "-",
            row["to"],
            row["trigger"],
            row["reason"],
            payload,
        )
    console.print(shown)


def _compact_transitions(rows: list[dict[str, Any]]) -> Table:
    """Time, entity (short id, or `gate`), the change, and the reason folded into what is left of the line; the
    sequence, trigger and payload are in `--json` and on a wider terminal."""
    shown = table(f"{len(rows)} transition(s), times UTC", compact=True)
    shown.add_column("at", no_wrap=True)
    shown.add_column("entity", no_wrap=True)
    shown.add_column("change", no_wrap=True)
    shown.add_column("reason", overflow="fold", ratio=1)
    for row in rows:
        entity = "gate" if row["machine"] == "gate" else short_id(row["entity_id"], compact=True)
        shown.add_row(short_time(row["at"], compact=True), entity, f"{row['from'] or '-'}>{row['to']}", row["reason"])
    return shown


def show_gate(
    as_json: JsonOption = False, db: DbOption = None, config: ConfigOption = None, account: AccountOption = None
) -> None:
    """The trading gate: state, reason, and until when a lock holds."""
    with clean_errors():
        engine = open_read_only(database_url(db, config, account))
        row = inspection.gate(engine)
    if as_json:
        print_json(row)
        return
    if row is None:
        console.print("The gate has not been created yet: the service has never started on this database.")
        return
    table = Table(show_header=False, title="trading gate")
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for key in ("state", "reason", "locked_until", "updated_at", "seq"):
        table.add_row(key, str(row[key]) if row[key] not in (None, "") else "-")
    console.print(table)


def diagram(
    machine: Annotated[MachineName, typer.Argument(help="Which machine to draw.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file: .md (Mermaid), .svg or .png (Graphviz).")],
) -> None:
    """Draw a state machine from the table it runs on."""
    table = TABLES[machine.value]
    suffix = out.suffix.lower()
    if suffix == ".md":
        out.write_text(mermaid_markdown(table), encoding="utf-8")
    elif suffix in (".svg", ".png"):
        executable = shutil.which("dot")
        if executable is None:
            fail(
                "drawing SVG or PNG needs Graphviz's `dot`: install the `graphviz` package (apt-get install graphviz), "
                "or use --out FILE.md"
            )
        result = subprocess.run(
            [executable, f"-T{suffix[1:]}", "-o", str(out)],
            input=dot(table),
            text=True,
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            fail(f"Graphviz failed: {result.stderr.strip()}")
    else:
        fail(f"{out}: unknown format {suffix or '(none)'}: use .md, .svg or .png")
    console.print(f"wrote {out}")
