"""Commands that run or steer the service: run, status, gate halt / resume."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from actors.signals.loading import load_strategies
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
from service.columns import is_compact, short_id, short_number, short_time, table
from service.lock import AlreadyRunning, service_running
from service.logs import configure
from service.report.strategies import COLUMNS as STRATEGY_COLUMNS
from service.report.strategies import strategy_rows
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
    # The runner (the Binance client, the notifiers) and the web stack, imported by the command that runs them.
    from service.http import server as http_server
    from service.live_guard import ServiceError, check_live_guard
    from service.runner import Runner, install_signal_handlers

    with clean_errors():
        settings = command_settings(config, db, account)
        load_strategies(settings)  # a strategy that cannot run is refused before anything starts
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
    if report["strategies"]:
        console.print(_strategies_table(report["strategies"]))
    console.print(_positions_table(report["positions"], with_marks=bool(report["marks"])))
    if report["foreign_positions"]:
        _print_foreign(report["foreign_positions"])


def _positions_table(positions: list[dict[str, Any]], *, with_marks: bool) -> Table:
    """Open positions; on a narrow terminal with short ids, prices to 6 digits, and the last price only where
    there is no mark price (the Binance feed's, which values the position)."""
    compact = is_compact(console)
    shown = table(f"{len(positions)} open position(s)", compact)
    prices = ("mark",) if compact and with_marks else ("last", *(("mark",) if with_marks else ()))
    for column in ("id", "symbol", "side", "qty", "entry", "stop", *prices, "unrealised PnL"):
        shown.add_column(column, no_wrap=True)
    shown.add_column("state", overflow="fold", ratio=1)
    for row in positions:
        marks = (short_number(_plain(row["mark_price"]), compact),) if with_marks else ()
        last = (short_number(row["last_price"], compact),) if not (compact and with_marks) else ()
        shown.add_row(
            short_id(row["id"], compact),
            row["symbol"],
            row["side"],
            short_number(row["open_quantity"], compact),
            short_number(row["entry_price"], compact),
            short_number(row["stop_price"], compact),
            *last,
            *marks,
            row["unrealized_pnl"] or "-",
            row["state"],
        )
    return shown


def _print_lease(lease: dict[str, Any]) -> None:
    owner = lease["owner"]
    compact = is_compact(console)
    expiry = "expired" if lease["expired"] else f"expires {short_time(lease['expires_at'], compact)}"
    console.print(
        Text.assemble(
            "lease: ",
            (f"{owner['host']} pid {owner['pid']}", "bold"),
            f", token {lease['token']}, renewed {lease['age_s']:.1f}s ago, {expiry}",
        )
    )
    for standby in lease["standbys"]:
        since = short_time(standby["since"], compact)
        console.print(f"standby: {standby['host']} pid {standby['pid']}, waiting since {since}")


def _print_foreign(rows: list[dict[str, Any]]) -> None:
    """Positions held on the exchange in symbols outside the configuration: the service leaves them alone."""
    compact = is_compact(console)
    shown = table(f"{len(rows)} position(s) on the exchange that are not ours (left alone)", compact)
    for column in ("symbol", "side", "qty", "first seen", "last seen"):
        shown.add_column(column, no_wrap=column.endswith("seen"))
    for row in rows:  # the exchange's text: never markup
        shown.add_row(
            *(Text(printable(str(row[key]))) for key in ("symbol", "side", "quantity")),
            *(short_time(row[key], compact) for key in ("first_seen", "last_seen")),
        )
    console.print(shown)


def _costs_table(costs: dict[str, Any]) -> Table:
    """Each symbol's spread and realised slippage as the policy last saw them, against the caps."""
    compact = is_compact(console)
    caps = (
        f"caps {costs['max_spread_bps']:.0f}/{costs['max_slippage_bps']:.0f} bps"
        if compact
        else f"caps: spread {costs['max_spread_bps']:.1f} bps, slippage {costs['max_slippage_bps']:.1f} bps"
    )
    shown = table(f"costs at {short_time(costs['at'], compact)} ({caps})", compact)
    for column in ("symbol", "spread bps", "slippage bps", "fills"):
        shown.add_column(column, no_wrap=True)
    shown.add_column("over a cap", overflow="fold", ratio=1)
    for row in costs["symbols"]:
        shown.add_row(
            row["symbol"],
            _bps(row["spread_bps"]),
            _bps(row["slippage_bps"]),
            str(row["slippage_fills"]),
            Text(row["over_cap"] or "-"),  # Text: never markup
        )
    return shown


def _strategies_table(rows: list[dict[str, Any]]) -> Table:
    shown = Table(title="by strategy (the inbox included)")
    for column in STRATEGY_COLUMNS:
        shown.add_column(column)
    for row in strategy_rows({"by_source": rows}):
        shown.add_row(*(Text(printable(str(cell))) for cell in row))  # names and errors are the user's: never markup
    return shown


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
