"""The exchange port the settings ask for, started: the paper account (restored from the database if it was
saved there) or, only under the `--live` opt-in, Binance."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from config import ExchangeKind, Settings
from exchange.binance.endpoints import binance_endpoints
from exchange.paper.exchange import PaperExchange
from exchange.port import ExchangePort
from persistence import records

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger(__name__)


def make_exchange(settings: Settings, engine: Engine, *, live: bool = False, read_only: bool = False) -> ExchangePort:
    """The exchange port, started. Binance only with `live` (the `--live` opt-in of `run` and `recover`,
    checked with the keys before this is called): a replay or a test never reaches a real account by accident.
    `read_only` (a dry run): a Binance port that only reads, without configuring the account or a stream.

    A Binance ban (or rate limit) is kept in the database (`service_state`, one row per REST root) so that a
    restart sends nothing until it ends, not even the start-up reads."""
    if settings.exchange.kind is ExchangeKind.PAPER:
        with engine.connect() as connection:
            state = records.load_exchange_state(connection, records.PAPER_EXCHANGE_STATE)
        paper = settings.exchange.paper
        if state:
            return PaperExchange.from_state(
                state, spread_bps=paper.spread_bps, symbol_spread_bps=paper.symbol_spread_bps
            )
        return PaperExchange.from_settings(paper)
    if not live:
        raise ValueError('exchange.kind = "binance" runs only under `quantum-trader run --live` (or `recover --live`)')
    from exchange.binance.account import BinanceExchange  # python-binance loads only when it is used

    exchange = settings.exchange
    if exchange.api_key is None or exchange.api_secret is None:
        raise ValueError("Binance needs QT_EXCHANGE__API_KEY and QT_EXCHANGE__API_SECRET in the environment")
    base_url, ws_url = binance_endpoints(exchange)
    load_block, save_block = block_store(engine, base_url)
    port = BinanceExchange(
        api_key=exchange.api_key.get_secret_value(),
        api_secret=exchange.api_secret.get_secret_value(),
        base_url=base_url,
        ws_url=ws_url,
        testnet=exchange.testnet,
        symbols=settings.symbols,
        leverage=exchange.leverage,
        timeout_s=exchange.request_timeout_s,
        client_id_prefix=f"{exchange.client_id_prefix}-",  # our ids: <prefix>-<purpose>-<position>-<n>
        load_block=load_block,
        save_block=save_block,
    )
    # Clock offset and filters; unless read-only, also one-way mode, leverage and the user-data stream.
    return port.start(configure=not read_only)


def block_name(base_url: str) -> str:
    """The `service_state` row that keeps a ban of the exchange at `base_url`."""
    return f"binance-block:{base_url}"


def block_store(
    engine: Engine, base_url: str
) -> tuple[Callable[[], tuple[int, str] | None], Callable[[int, str], None]]:
    """(load, save) of the exchange's block, (its end in wall ms, why), in the database. Neither raises: a
    database that cannot keep it (read-only, not migrated) loses the block at a restart, no more."""
    name = block_name(base_url)

    def load() -> tuple[int, str] | None:
        try:
            with engine.connect() as connection:
                value = records.load_state(connection, name)
        except SQLAlchemyError as e:
            log.warning("the exchange's block could not be read from the database: %s", type(e).__name__)
            return None
        if not isinstance(value, dict) or "until_ms" not in value:
            return None
        return int(value["until_ms"]), str(value.get("reason", "blocked by the exchange"))

    def save(until_ms: int, reason: str) -> None:
        try:
            with engine.begin() as connection:
                records.save_state(connection, name, {"until_ms": until_ms, "reason": reason}, int(time.time() * 1000))
        except SQLAlchemyError as e:
            log.warning("the exchange's block until %d could not be kept: %s", until_ms, type(e).__name__)

    return load, save
