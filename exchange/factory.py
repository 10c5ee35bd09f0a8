"""The exchange port the settings ask for, started: the paper account (restored from the database if it was
saved there) or, only under the `--live` opt-in, Binance."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config import ExchangeKind, Settings
from exchange.binance.endpoints import binance_endpoints
from exchange.paper.exchange import PaperExchange
from exchange.port import ExchangePort
from persistence import records

if TYPE_CHECKING:
    from sqlalchemy import Engine


def make_exchange(settings: Settings, engine: Engine, *, live: bool = False, read_only: bool = False) -> ExchangePort:
    """The exchange port, started. Binance only with `live` (the `--live` opt-in of `run` and `recover`,
    checked with the keys before this is called): a replay or a test never reaches a real account by accident.
    `read_only` (a dry run): a Binance port that only reads, without configuring the account or a stream."""
    if settings.exchange.kind is ExchangeKind.PAPER:
        with engine.connect() as connection:
            state = records.load_exchange_state(connection, records.PAPER_EXCHANGE_STATE)
        return PaperExchange.from_state(state) if state else PaperExchange.from_settings(settings.exchange.paper)
    if not live:
        raise ValueError('exchange.kind = "binance" runs only under `quantum-trader run --live` (or `recover --live`)')
    from exchange.binance.account import BinanceExchange  # python-binance loads only when it is used

    exchange = settings.exchange
    if exchange.api_key is None or exchange.api_secret is None:
        raise ValueError("Binance needs QT_EXCHANGE__API_KEY and QT_EXCHANGE__API_SECRET in the environment")
    base_url, ws_url = binance_endpoints(exchange)
    port = BinanceExchange(
        api_key=exchange.api_key.get_secret_value(),
        api_secret=exchange.api_secret.get_secret_value(),
        base_url=base_url,
        ws_url=ws_url,
        testnet=exchange.testnet,
        symbols=settings.symbols,
        leverage=exchange.leverage,
        client_id_prefix=f"{exchange.client_id_prefix}-",  # our ids: <prefix>-<purpose>-<position>-<n>
    )
    # Clock offset and filters; unless read-only, also one-way mode, leverage and the user-data stream.
    return port.start(configure=not read_only)
