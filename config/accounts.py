"""Many accounts on one database: each account's effective settings, and where its rows live.

An account is a section `[accounts.NAME]` (or `QT_ACCOUNTS__NAME__*` variables) over the top-level settings: what it
sets wins, key by key; the rest is the top-level's. Its API keys are its own (`QT_ACCOUNTS__NAME__API_KEY`), never
the top-level ones: two accounts are two exchange accounts.

On PostgreSQL each account lives in a schema of its own (`account_NAME` unless `schema` says otherwise), set as the
connection's `search_path` in the URL, so every engine, the migrations and the instance lock use it without knowing
about accounts. A schema rather than an account column in every table: no query can forget an account filter; the
migrations, the unique constraints, the sequence guards and the per-database client-id salt stay exactly as they are;
each account has its own migration history (Alembic's version table is in the schema); and an account can be dropped
or moved on its own. SQLite has no schemas: there an account has a database file of its own beside the configured
one (`quantum_trader-NAME.db`).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ValidationError

from config.loading import ConfigError, describe_validation_error
from config.sections import DatabaseSettings
from config.settings import Settings

SECTIONS = ("risk", "exchange", "feed", "signals")  # the sections an account may change, key by key

_M = TypeVar("_M", bound=BaseModel)


def settings_for_account(settings: Settings, name: str) -> Settings:
    """Account `name`'s effective settings: its section over the top-level ones, its own keys, its own schema (or
    file). Raises `ConfigError` for an account that is not configured, or whose settings do not validate."""
    account = settings.accounts.get(name)
    if account is None:
        configured = ", ".join(sorted(settings.accounts)) or "none"
        raise ConfigError(
            f"no account {name!r} in the settings (configured: {configured}); an account is an [accounts.{name}] "
            f"section of the settings file, or QT_ACCOUNTS__{name.upper()}__* variables"
        )
    update: dict[str, Any] = {section: _over(settings, name, section) for section in SECTIONS}
    update["exchange"] = update["exchange"].model_copy(
        update={"api_key": account.api_key, "api_secret": account.api_secret}
    )
    if account.symbols is not None:
        update["symbols"] = account.symbols
    schema = account.db_schema or f"account_{name}"
    update["database"] = DatabaseSettings(url=account_database_url(settings.database.url, name, schema))
    update["accounts"] = {}  # one account's settings know nothing of the others (nor their keys)
    return settings.as_account(name, update)


def all_account_settings(settings: Settings) -> dict[str, Settings]:
    """Every configured account's effective settings: what `config check` validates."""
    return {name: settings_for_account(settings, name) for name in sorted(settings.accounts)}


def _over(settings: Settings, name: str, section: str) -> BaseModel:
    """The top-level section with the keys the account sets put over it, validated as a whole."""
    base: BaseModel = getattr(settings, section)
    given: BaseModel | None = getattr(settings.accounts[name], section)
    if given is None:
        return base
    merged = _deep_merge(base.model_dump(), given.model_dump(exclude_unset=True))
    try:
        return type(base).model_validate(merged)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, ("accounts", name, section))) from None


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        merged[key] = _deep_merge(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return merged


def account_database_url(url: str, name: str, schema: str) -> str:
    """The database URL of account `name`: on PostgreSQL the same database with `search_path` set to its schema; on
    SQLite a file of its own beside the configured one (`quantum_trader.db` -> `quantum_trader-NAME.db`)."""
    if url.startswith("sqlite"):
        return _sqlite_file_of(url, name)
    return _with_search_path(url, schema)


def _sqlite_file_of(url: str, name: str) -> str:
    head, separator, rest = url.partition(":///")
    path, question, query = rest.partition("?")
    if not separator or not path or path == ":memory:":
        return url  # in memory: each process has its own database anyway
    directory, slash, filename = path.rpartition("/")
    file = PurePosixPath(filename)
    return f"{head}{separator}{directory}{slash}{file.stem}-{name}{file.suffix}{question}{query}"


def _with_search_path(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = [value for key, value in query if key == "options"]
    if any("search_path" in value for value in options):
        raise ConfigError(
            "database.url sets a search_path in its options: with accounts, each account's schema is its own "
            "(accounts.NAME.schema, default account_NAME); take search_path out of the URL"
        )
    # libpq's `options` are command-line switches for the server, separated by spaces: keep any already given.
    query = [(key, value) for key, value in query if key != "options"]
    query.append(("options", " ".join([*options, f"-csearch_path={schema}"])))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))
