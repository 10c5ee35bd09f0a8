"""What every command shares: option types, settings and database resolution, clean errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import OperationalError

from config import ConfigError, Settings, load_settings
from config.accounts import settings_for_account
from persistence.db import DatabaseUnavailable, create_schema, sqlite_url
from service.terminal import describe_error, printable

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Settings file (TOML).", show_default=False)]
DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="SQLite database file; default: the configured database URL.", show_default=False),
]
AccountOption = Annotated[
    str | None,
    typer.Option(
        "--account",
        envvar="QT_ACCOUNT",
        help="The account, a section accounts.NAME of the settings: on PostgreSQL its own schema (account_NAME), "
        "on SQLite its own database file beside the configured one (quantum_trader-NAME.db). "
        "Default: the top-level settings.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON (stable; see README).")]


class PlainConsole(Console):
    """A console that shows every string as written: no Rich markup, no emoji codes, and control characters as
    escapes (`\x1b`). Ids, reasons and notes come from the database, the exchange and the operator; a signal id
    such as `evil[/]` must not crash a table, nor an escape code recolour or clear the operator's terminal.
    Styling is given as `Text` objects, which do not pass through here."""

    def __init__(self, *, stderr: bool = False) -> None:
        super().__init__(stderr=stderr, highlight=False, markup=False, emoji=False)

    def render_str(self, text: str, **options: Any) -> Text:
        # Every str printed or put in a table cell is turned into a Text here (Rich's documented extension point).
        return super().render_str(printable(text), **options)


console = PlainConsole()
errors = PlainConsole(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """One message (its lines are ours; what it quotes is shown as written) and the exit code."""
    errors.print(Text.assemble(("error:", "bold red"), " ", printable(message, newlines=True)), soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def clean_errors() -> Iterator[None]:
    """Expected failures become one message and exit code 2, never a traceback."""
    try:
        yield
    except (ConfigError, DatabaseUnavailable, ValueError) as error:
        fail(str(error))
    except OperationalError as error:  # locked, unreachable, cannot be opened: the database's own words
        fail(describe_error(error))


def settings_from(config: Path | None) -> Settings:
    return load_settings(config)


def command_settings(config: Path | None, db: Path | None, account: str | None) -> Settings:
    """The settings a command works with: the file and the environment, `--db` as the database, then the account's
    section over them, with the account's schema (or file)."""
    settings = settings_from(config)
    if db is not None:
        settings = settings.model_copy(
            update={"database": settings.database.model_copy(update={"url": sqlite_url(db)})}
        )
    return settings if account is None else settings_for_account(settings, account)


def database_url(db: Path | None, config: Path | None, account: str | None = None) -> str:
    if db is not None and account is None:
        return sqlite_url(db)  # no settings file needed
    return command_settings(config, db, account).database.url


def create_account_schema(url: str, account: str | None) -> None:
    """The commands that write (run, recover, db upgrade) make an account's schema before they lock it: the instance
    lock is keyed on the schema, and one that does not exist yet has no name on the server."""
    if account is not None:
        with clean_errors():
            create_schema(url)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
