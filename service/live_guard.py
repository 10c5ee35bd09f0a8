"""What a start checks and says before it trades: whether Binance trading was asked for as it must be (`--live`,
both keys from the environment, the Binance feed, an absolute database path), and where the orders go."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from config import ExchangeKind, FeedKind, Settings
from config.settings import account_key_variables
from exchange.binance.endpoints import binance_endpoints


class ServiceError(Exception):
    """The service cannot start as configured; the message says why."""


def check_live_guard(settings: Settings, *, live: bool, command: str = "run") -> None:
    """Binance trading needs both keys from the environment and the `--live` flag; raises `ServiceError` naming
    what is missing (never a key's value). `command` names the command in the message (`run`, `recover`)."""
    exchange = settings.exchange
    if exchange.kind is not ExchangeKind.BINANCE:
        return
    variables = account_key_variables(settings.account)  # an account's keys are its own: QT_ACCOUNTS__NAME__...
    given = (exchange.has_api_key, exchange.has_api_secret)
    missing = [variable for is_set, variable in zip(given, variables, strict=True) if not is_set]
    problems = []
    if not live:
        problems.append("the --live flag was not given")
    if missing:
        problems.append(f"{' and '.join(missing)} not set in the environment")
    if settings.feed.kind is not FeedKind.BINANCE:
        # Orders at the exchange's prices decided on synthetic or replayed candles: never what anyone wants.
        problems.append(f'feed.kind is "{settings.feed.kind}"; live orders need feed.kind = "binance"')
    relative = relative_sqlite_path(settings.database.url)
    if relative is not None:
        # Started from another directory, a relative path is another database: its own lock, none of the positions.
        problems.append(
            f"the database path {relative!r} is relative; live trading needs an absolute one, so that every start, "
            "from any directory, finds the same positions"
        )
    if problems:
        venue = "the Binance testnet" if exchange.testnet else "Binance MAINNET with real money"
        raise ServiceError(
            f'exchange.kind = "binance" sends orders to {venue}; it needs both API keys in the '
            f"environment ({', '.join(variables)}), `{command} --live` and the Binance feed: "
            f"{'; '.join(problems)}"
        )


def relative_sqlite_path(url: str) -> str | None:
    """The path of a SQLite URL when it is relative (None: absolute, in memory, or another database)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    path = parsed.database
    if not parsed.drivername.startswith("sqlite") or not path or path == ":memory:" or path.startswith("file:"):
        return None
    return None if Path(path).is_absolute() else path


def describe_venue(settings: Settings) -> str:
    """Where orders go, for the loud line at start."""
    exchange = settings.exchange
    if exchange.kind is ExchangeKind.PAPER:
        return "PAPER TRADING (no real orders)"
    base_url, _ = binance_endpoints(exchange)
    if exchange.testnet:
        return f"BINANCE TESTNET (test funds, no real money) at {base_url}"
    return f"LIVE MAINNET TRADING WITH REAL MONEY on Binance at {base_url}"
