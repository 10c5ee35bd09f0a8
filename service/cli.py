"""`quantum-trader`: the operator's command line. Commands are thin; the work lives elsewhere."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Annotated

import typer

from config.accounts import all_account_settings
from persistence.db import make_engine
from persistence.migrate import current_revision, upgrade
from service import cli_dashboard, cli_decisions, cli_inspect, cli_recover, cli_replay, cli_service, cli_strategies
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
    errors,
    fail,
    print_json,
    settings_from,
)
from service.lock import AlreadyRunning, InstanceLock

app = typer.Typer(
    help="Quantum Trader: a crash-safe trading service for Binance USD-M futures.",
    no_args_is_help=True,
    add_completion=False,
)
config_app = typer.Typer(help="Check and show settings.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
gate_app = typer.Typer(help="The trading gate: show it (default), halt or resume it.", invoke_without_command=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(gate_app, name="gate")

app.command("run")(cli_service.run)
app.command("status")(cli_service.status)
app.command("replay")(cli_replay.replay)
app.command("recover")(cli_recover.recover)
app.command("positions")(cli_inspect.positions)
app.command("transitions")(cli_inspect.transitions)
app.command("diagram")(cli_inspect.diagram)
app.command("strategies")(cli_strategies.strategies)
app.command("decisions")(cli_decisions.decisions)
app.command("policy")(cli_decisions.policy)
app.command("dashboard")(cli_dashboard.dashboard)


@gate_app.callback()
def gate(
    ctx: typer.Context,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
    account: AccountOption = None,
) -> None:
    if ctx.invoked_subcommand is None:
        cli_inspect.show_gate(as_json=as_json, db=db, config=config, account=account)


gate_app.command("halt")(cli_service.gate_halt)
gate_app.command("resume")(cli_service.gate_resume)


@config_app.command("check")
def config_check(
    file: Annotated[Path, typer.Argument(help="Settings file (TOML) to validate.")],
    as_json: JsonOption = False,
    account: AccountOption = None,
) -> None:
    """Validate a settings file, every account in it included, and print the effective settings (file, then QT_*
    environment; with --account, that account's)."""
    with clean_errors():
        accounts = all_account_settings(settings_from(file))
        settings = command_settings(file, None, account)
        cli_strategies.check_strategies(settings_from(file))  # imports and checks each configured strategy
    if not as_json:
        checked = f" with its {len(accounts)} account(s) ({', '.join(accounts)})" if accounts else ""
        errors.print(f"{file}: valid{checked}; the effective settings follow", soft_wrap=True)
    print_json(settings.redacted())


@config_app.command("show")
def config_show(config: ConfigOption = None, account: AccountOption = None) -> None:
    """Print the effective settings (with --account, that account's), secrets redacted."""
    with clean_errors():
        settings = command_settings(config, None, account)
    print_json(settings.redacted())


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None, config: ConfigOption = None, account: AccountOption = None) -> None:
    """Create or migrate the database schema to the newest revision (never beside a running service); with
    --account, the account's (its PostgreSQL schema is made if missing)."""
    with clean_errors():
        url = database_url(db, config, account)
        create_account_schema(url, account)
        try:
            with InstanceLock(url):  # the service's own lock: no service starts on the schema while it changes
                engine = make_engine(url)
                upgrade(engine)
                console.print(f"database at revision {current_revision(engine)}")
                engine.dispose()
        except AlreadyRunning as error:
            fail(f"{error}: stop it first (the service upgrades the schema itself when it starts)")


def main() -> None:
    try:
        app()
    finally:
        # The process ends here. Its last act would be a collection over every object a command made (a replay's
        # actors, SQLAlchemy's and matplotlib's caches: ~0.3 s); frozen, they are left to the OS with the rest of
        # the memory. atexit handlers (logging's flush) still run; objects in reference cycles are not finalized,
        # so a command closes its own files and disposes its own engines, as each does. Tests call `app`, not this.
        gc.freeze()
