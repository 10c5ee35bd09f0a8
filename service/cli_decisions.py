"""Read-only commands: what the service decided about each signal, and the policy it decided under."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from persistence.db import open_read_only
from service import decision_queries, inspection
from service.cli_common import (
    AccountOption,
    ConfigOption,
    DbOption,
    JsonOption,
    clean_errors,
    console,
    database_url,
    print_json,
)
from service.columns import is_compact, short_id, short_time, table


def decisions(
    reason: Annotated[
        str | None, typer.Option("--reason", help="Only this reason, e.g. BLOCKED_BY_GATE (see README).")
    ] = None,
    symbol: Annotated[str | None, typer.Option("--symbol", help="Only this symbol, e.g. BTCUSDT.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO 8601 time, 15m / 2h / 3d ago, or epoch ms.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the newest N decisions.")] = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Only this strategy's signals (`inbox`: the inbox's).")
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
    account: AccountOption = None,
) -> None:
    """Every signal's recorded decision with its reason and detail, oldest first."""
    with clean_errors():
        code = decision_queries.reason_code(reason) if reason else None
        since_ms = inspection.parse_time(since, datetime.now(UTC)) if since else None
        engine = open_read_only(database_url(db, config, account))
        rows = decision_queries.decisions(
            engine, reason=code, symbol=symbol, since=since_ms, limit=limit, strategy=strategy
        )
    if as_json:
        print_json(rows)
        return
    compact = is_compact(console)
    shown = table(f"{len(rows)} decision(s), times UTC", compact)
    for column in ("at", "symbol", "side", "conf", "reason", *(() if compact else ("strategy", "signal", "position"))):
        shown.add_column(column, no_wrap=True)
    shown.add_column("detail", overflow="fold", ratio=1)
    for row in rows:
        full = () if compact else (row["source"], row["signal_id"], row["position_id"] or "-")
        shown.add_row(
            short_time(row["at"], compact),
            row["symbol"],
            row["side"],
            f"{row['confidence']:.2f}",
            row["reason"],
            *full,
            _detail(row) if compact else row["detail"],
        )
    console.print(shown)
    for name, reasons in decision_queries.by_strategy(rows).items():
        counted = ", ".join(f"{reason} {count}" for reason, count in reasons.items())
        console.print(Text(f"{name}: {sum(reasons.values())} ({counted})"))  # a user's name: never markup


def _detail(row: dict[str, Any]) -> str:
    """On a narrow terminal the position's short id leads the detail (the signal's id is in `--json`)."""
    return f"{short_id(row['position_id'], True)}: {row['detail']}" if row["position_id"] else row["detail"]


def policy(
    history: Annotated[bool, typer.Option("--history", help="Every policy recorded, oldest first.")] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="With --history: only the newest N.")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
    account: AccountOption = None,
) -> None:
    """The trading policy in force (the orchestrator's last), or with --history each one and when it came in."""
    with clean_errors():
        engine = open_read_only(database_url(db, config, account))
        rows = decision_queries.policies(engine, history=history, limit=limit)
    if as_json:
        print_json(rows if history else (rows[0] if rows else None))
        return
    if not rows:
        console.print("No policy recorded yet: the service has not run a cycle on this database.")
        return
    console.print(_history(rows) if history else _current(rows[0]))


def _current(row: dict[str, Any]) -> Table:
    shown = Table(show_header=False, title=f"policy in force since {short_time(row['at'], is_compact(console))}")
    shown.add_column("field", no_wrap=True)
    shown.add_column("value", overflow="fold")
    shown.add_row("enforced", "yes" if row["enforced"] else "no (OBSERVE: recorded, not enforced)")
    for key, value in row["policy"].items():
        if key != "note":
            shown.add_row(key, _percent(value) if key.endswith("_pct") else _value(value))
    shown.add_row("note", row["note"])
    return shown


def _history(rows: list[dict[str, Any]]) -> Table:
    compact = is_compact(console)
    shown = table(f"{len(rows)} polic{'y' if len(rows) == 1 else 'ies'}, times UTC", compact)
    for column in ("at", "profile", "exit", "conf", "risk", "max"):
        shown.add_column(column, no_wrap=True)
    shown.add_column("note", overflow="fold", ratio=1)
    for row in rows:
        policy = row["policy"]
        shown.add_row(
            short_time(row["at"], compact),
            str(policy.get("risk_profile", "-")),
            str(policy.get("exit_mode", "-")),
            _value(policy.get("min_confidence")),
            _percent(policy.get("max_risk_pct")),
            str(policy.get("max_open_positions", "-")),
            row["note"] if row["enforced"] else f"(not enforced) {row['note']}",
        )
    return shown


def _percent(value: Any) -> str:
    return f"{value:.2%}" if isinstance(value, int | float) else _value(value)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(_value(item) for item in value) or "-"
    return "-" if value is None else str(value)
