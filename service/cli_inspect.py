"""Read-only commands: positions, transitions, gate, diagram."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

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
    table = Table(title=f"{len(rows)} position(s)")
    for column in ("id", "symbol", "side", "state", "qty", "entry", "stop", "take profit", "exit", "PnL", "why closed"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
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
            row["close_reason"] or "",
        )
    console.print(table)


class MachineName(StrEnum):
    position = "position"
    gate = "gate"


def transitions(
    position: Annotated[str | None, typer.Option("--position", help="Only this position's transitions.")] = None,
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
    table = Table(title=f"{len(rows)} transition(s)")
    for column in ("at", "machine", "entity", "seq", "from", "to", "trigger", "reason", "payload"):
        table.add_column(column, overflow="fold")
    for row in rows:
        payload = json.dumps(row["payload"], sort_keys=True) if row["payload"] else ""
        table.add_row(
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
    console.print(table)


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
