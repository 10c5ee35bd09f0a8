"""The fake server's REST routes: each method and path, its security type and the handler that answers it."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from scripts.fake_binance import account
from scripts.fake_binance.engine import Engine
from scripts.fake_binance.streams import StreamHub

Handler = Callable[[dict[str, str]], Any]


class Security(StrEnum):
    """Binance's endpoint security types."""

    NONE = "NONE"
    USER_STREAM = "USER_STREAM"  # the API key only
    SIGNED = "SIGNED"  # the API key and a signature


NONE, KEY, SIGNED = Security.NONE, Security.USER_STREAM, Security.SIGNED


class Routes:
    def __init__(self, engine: Engine, streams: StreamHub, now_ms: Callable[[], int]) -> None:
        self._table = _table(engine, streams, now_ms)

    def get(self, method: str, path: str) -> tuple[Security, Handler] | None:
        return self._table.get((method, path))

    def hook(self, method: str, path: str, wrap: Callable[[Handler], Handler]) -> None:
        """Put `wrap(handler)` in place of the route's handler (a test's hook: it may call the handler or not)."""
        security, handler = self._table[(method, path)]
        self._table[(method, path)] = (security, wrap(handler))


def _table(e: Engine, streams: StreamHub, now_ms: Callable[[], int]) -> dict[tuple[str, str], tuple[Security, Handler]]:
    v1 = "/fapi/v1/"
    return {
        ("GET", "/api/v3/ping"): (NONE, lambda p: {}),
        ("GET", "/api/v3/time"): (NONE, lambda p: {"serverTime": now_ms()}),
        ("GET", v1 + "ping"): (NONE, lambda p: {}),
        ("GET", v1 + "time"): (NONE, lambda p: {"serverTime": now_ms()}),
        ("GET", v1 + "exchangeInfo"): (NONE, lambda p: {**e.exchange_info, "serverTime": now_ms()}),
        ("GET", v1 + "klines"): (NONE, e.klines),
        ("GET", v1 + "premiumIndex"): (NONE, e.premium),
        ("POST", v1 + "leverage"): (SIGNED, lambda p: account.change_leverage(e, p)),
        ("POST", v1 + "positionSide/dual"): (SIGNED, lambda p: account.change_position_mode(e, p)),
        ("GET", v1 + "positionSide/dual"): (SIGNED, lambda p: {"dualSidePosition": e.dual_side}),
        ("POST", v1 + "order"): (SIGNED, e.new_order),
        ("GET", v1 + "order"): (SIGNED, e.get_order),
        ("DELETE", v1 + "order"): (SIGNED, e.cancel_order),
        ("GET", v1 + "openOrders"): (SIGNED, e.open_orders),
        ("GET", v1 + "userTrades"): (SIGNED, e.user_trades),
        ("POST", v1 + "algoOrder"): (SIGNED, e.new_algo),
        ("GET", v1 + "algoOrder"): (SIGNED, e.get_algo),
        ("DELETE", v1 + "algoOrder"): (SIGNED, e.cancel_algo),
        ("GET", v1 + "openAlgoOrders"): (SIGNED, e.open_algos),
        ("GET", "/fapi/v3/positionRisk"): (SIGNED, lambda p: account.position_risk(e, p)),
        ("GET", "/fapi/v3/balance"): (SIGNED, lambda p: account.balance(e)),
        ("GET", "/fapi/v2/account"): (SIGNED, lambda p: account.account(e)),
        ("POST", v1 + "listenKey"): (KEY, streams.new_listen_key),
        ("PUT", v1 + "listenKey"): (KEY, streams.keepalive),
        ("DELETE", v1 + "listenKey"): (KEY, streams.close_listen_key),
    }
