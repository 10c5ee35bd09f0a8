"""Where Binance USD-M futures answers: the REST and WebSocket roots, worked out here alone.

The testnet unless `testnet = false` is set explicitly; a configured `base_url` (a
fake server on 127.0.0.1, a proxy) wins over both, and its WebSocket root follows
it (`http://host` -> `ws://host`) unless `ws_url` is set too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.sections import ExchangeSettings

MAINNET_FUTURES_URL = "https://fapi.binance.com"
TESTNET_FUTURES_URL = "https://testnet.binancefuture.com"
MAINNET_WS_URL = "wss://fstream.binance.com"
TESTNET_WS_URL = "wss://stream.binancefuture.com"


def endpoints(base_url: str | None, ws_url: str | None, *, testnet: bool) -> tuple[str, str]:
    """(REST root, WebSocket root), without a trailing slash."""
    if base_url is not None:
        base = base_url.rstrip("/")
        return base, (ws_url or "ws" + base.removeprefix("http")).rstrip("/")
    if testnet:
        return TESTNET_FUTURES_URL, (ws_url or TESTNET_WS_URL).rstrip("/")
    return MAINNET_FUTURES_URL, (ws_url or MAINNET_WS_URL).rstrip("/")


def binance_endpoints(exchange: ExchangeSettings) -> tuple[str, str]:
    """(REST root, WebSocket root) of the configured exchange: its overrides, else the testnet's, or mainnet's when
    `testnet = false` was set explicitly."""
    return endpoints(exchange.base_url, exchange.ws_url, testnet=exchange.testnet)
