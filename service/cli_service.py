"""Commands that run or steer the service: run, status, gate halt / resume."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from persistence.db import DatabaseUnavailable, open_read_only
from service import gate_commands
from service.cli_common import (
    AccountOption,
    ConfigOption,
    DbOption,
    JsonOption,
    clean_errors,
    command_settings,
    console,
    create_account_schema,
    database_url,
    fail,
    print_json,
)
from service.http import server as http_server
from service.lock import AlreadyRunning, service_running
from service.logs import configure
from service.runner import Runner, ServiceError, check_live_guard, install_signal_handlers
from service.status import status_report
from service.terminal import printable

STALE_AFTER_S = 30.0


def run(
    config: ConfigOption = None,
    db: DbOption = None,
    log_json: Annotated[bool, typer.Option("--log-json", help="One JSON object per log line.")] = False,
    live: Annotated[
        bool, typer.Option("--live", help="Allow live trading on Binance (needs keys in the environment).")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Log at DEBUG level, with the traceback of an error that stops it.")
    ] = False,
    standby: Annotated[
        bool,
        typer.Option(
            "--standby",
            help="If another instance trades the account, wait and take over when its lease expires "
            "(or at once when its process is gone), instead of exiting with code 2.",
        ),
    ] = False,
    account: AccountOption = None,
) -> None:
    """Run the service in the foreground (paper exchange and synthetic feed by default). Ctrl-C stops it."""
    with clean_errors():
        settings = command_settings(config, db, account)
    try:
        check_live_guard(settings, live=live)  # before any logging or database: a refusal is one clear line
        http_server.check(settings)
    except (ServiceError, ValueError) as error:
        fail(str(error))
    create_account_schema(settings.database.url, account)
    configure(json_lines=log_json, level=logging.DEBUG if debug else logging.INFO)
    runner = Runner(settings, live=live, standby=standby)
    install_signal_handlers(runner)
    try:
        code = runner.run()
    except (AlreadyRunning, DatabaseUnavailable, ServiceError) as error:
        fail(str(error))
    raise typer.Exit(code)


def status(
    as_json: JsonOption = False, db: DbOption = None, config: ConfigOption = None, account: AccountOption = None
) -> None:
    """Is the service running, the gate, the policy in force, what trading each symbol costs, open positions with
    unrealised PnL, and positions on the exchange that are not ours (in symbols outside the configuration: left
    alone)."""
    with clean_errors():
        url = database_url(db, config, account)
        engine = open_read_only(url)
        report = status_report(engine, running=service_running(url))
    if as_json:
        print_json(report)
        return
    service = report["service"]
    state = "running" if service["running"] else "not running"
    age = f", last heartbeat {service['heartbeat_age_s']:.1f}s ago" if service["heartbeat_age_s"] is not None else ""
    console.print(Text.assemble("service: ", (state, "bold"), age))
    if report["lease"]:
        _print_lease(report["lease"])
    gate = report["gate"] or {}
    gate_state, reason = printable(gate.get("state", "not created")), printable(gate.get("reason") or "")
    console.print(Text.assemble("gate: ", (gate_state, "bold"), " ", reason))  # Text: never markup
    policy = report["policy"]
    if policy:
        console.print(
            f"policy: {policy['risk_profile']}, exit {policy['exit_mode']}, min confidence "
            f"{policy['min_confidence']:.2f}, max risk {policy['max_risk_pct']:.2%}; {policy['note']}"
        )
        for _, why in policy.get("cooling_down") or ():
            console.print(Text.assemble("cool-down: ", printable(why)))  # after stop-outs, no new entries in it
    if report["costs"]:
        console.print(_costs_table(report["costs"]))
    with_marks = bool(report["marks"])  # only the Binance feed follows the mark price
    table = Table(title=f"{len(report['positions'])} open position(s)")
    for column in (
        "id",
        "symbol",
        "side",
        "state",
        "qty",
        "entry",
        "stop",
        "last",
        *(("mark",) if with_marks else ()),
        "unrealised PnL",
    ):
        table.add_column(column)
    for row in report["positions"]:
        mark = (_plain(row["mark_price"]),) if with_marks else ()
        table.add_row(
            row["id"],
            row["symbol"],
            row["side"],
            row["state"],
            row["open_quantity"],
            row["entry_price"] or "-",
            row["stop_price"] or "-",
            row["last_price"] or "-",
            *mark,
            row["unrealized_pnl"] or "-",
        )
    console.print(table)
    if report["foreign_positions"]:
        _print_foreign(report["foreign_positions"])


def _print_lease(lease: dict[str, Any]) -> None:
    owner = lease["owner"]
    expiry = "expired" if lease["expired"] else f"expires {lease['expires_at']}"
    console.print(
        Text.assemble(
            "lease: ",
            (f"{owner['host']} pid {owner['pid']}", "bold"),
            f", token {lease['token']}, renewed {lease['age_s']:.1f}s ago, {expiry}",
        )
    )
    for standby in lease["standbys"]:
        console.print(f"standby: {standby['host']} pid {standby['pid']}, waiting since {standby['since']}")


def _print_foreign(rows: list[dict[str, Any]]) -> None:
    """Positions held on the exchange in symbols outside the configuration: the service leaves them alone."""
    table = Table(title=f"{len(rows)} position(s) on the exchange that are not ours (left alone)")
    for column in ("symbol", "side", "qty", "first seen", "last seen"):
        table.add_column(column)
    for row in rows:  # the exchange's text: never markup
        table.add_row(
            *(Text(printable(str(row[key]))) for key in ("symbol", "side", "quantity", "first_seen", "last_seen"))
        )
    console.print(table)


def _costs_table(costs: dict[str, Any]) -> Table:
    """Each symbol's spread and realised slippage as the policy last saw them, against the caps."""
    table = Table(
        title=f"costs at {costs['at']} (caps: spread {costs['max_spread_bps']:.1f} bps, "
        f"slippage {costs['max_slippage_bps']:.1f} bps)"
    )
    for column in ("symbol", "spread bps", "slippage bps", "fills", "over a cap"):
        table.add_column(column)
    for row in costs["symbols"]:
        table.add_row(
            row["symbol"],
            _bps(row["spread_bps"]),
            _bps(row["slippage_bps"]),
            str(row["slippage_fills"]),
            Text(row["over_cap"] or "-"),  # Text: never markup
        )
    return table


def _bps(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _plain(price: object) -> str:
    """A price as Binance sends it ("40100.50000000") without its padding zeros ("40100.5")."""
    if price is None:
        return "-"
    try:
        return format(Decimal(str(price)).normalize(), "f")
    except InvalidOperation:
        return str(price)  # shown as written: status never fails on the heartbeat's content


def gate_command(command: str, reason: str, db: Path | None, config: Path | None, account: str | None) -> None:
    """Halt or resume: through the database to a running service, or directly when none runs."""
    with clean_errors():
        console.print(gate_commands.send(database_url(db, config, account), command, reason), soft_wrap=True)


def gate_halt(
    reason: Annotated[str, typer.Option("--reason", help="Why: recorded on the gate transition.")],
    db: DbOption = None,
    config: ConfigOption = None,
    account: AccountOption = None,
) -> None:
    """The kill switch: stop new entries until an operator resumes. Exits, stops and PnL tracking go on."""
    if not reason.strip():
        fail("--reason must say why")
    gate_command("halt", reason, db, config, account)


def gate_resume(
    reason: Annotated[str, typer.Option("--reason", help="Why it is safe again.")] = "resumed by operator",
    db: DbOption = None,
    config: ConfigOption = None,
    account: AccountOption = None,
) -> None:
    """Reopen a halted gate."""
    gate_command("resume", reason, db, config, account)
