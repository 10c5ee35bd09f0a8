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

from config import ConfigError, Settings, load_settings
from persistence.db import DatabaseUnavailable, sqlite_url

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Settings file (TOML).", show_default=False)]
DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="SQLite database file; default: the configured database URL.", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON (stable; see README).")]

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 2) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def clean_errors() -> Iterator[None]:
    """Expected failures become one message and exit code 2, never a traceback."""
    try:
        yield
    except (ConfigError, DatabaseUnavailable, ValueError) as error:
        fail(str(error))


def settings_from(config: Path | None) -> Settings:
    return load_settings(config)


def database_url(db: Path | None, config: Path | None) -> str:
    if db is not None:
        return sqlite_url(db)
    return settings_from(config).database.url


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
