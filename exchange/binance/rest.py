"""The signed REST calls of one Binance USD-M account, through python-binance 1.0.37's sync `Client`, each failure
mapped to the port's errors (see `port.py`).

* -1021 (timestamp outside recvWindow): the clock offset is taken again from
  the server's time and the request is retried once; it was refused, so the
  retry cannot double it.
* HTTP 429 / -1003 / -1015: `RateLimited(Retry-After)`; HTTP 418: `RateLimited`
  until the ban ends. Until then nothing is sent: every call raises at once.
  `on_block` is told of each block (its end, wall ms, and why) so that it can
  be kept past a restart and given back with `restore_block`; `load_block` is
  read at most once a second for a block another client kept (the market feed
  shares the IP, and so the ban).
* Timeouts, connection errors, 5xx, -1006 / -1007: `OutcomeUnknown`. Never
  resent here; the caller looks the order up by client id.
* Anything else: `OrderRejected(code, message)`, -2011 / -2013 included.

The API key and secret live only inside the python-binance client: no message,
log line or repr of this module includes them (the exchange's own messages are
scrubbed of them too).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException, BinanceRequestException

from exchange.port import ExchangeError, OrderRejected, OutcomeUnknown, RateLimited

log = logging.getLogger(__name__)

_UNKNOWN_OUTCOME_CODES = (-1000, -1001, -1006, -1007)
_RATE_LIMIT_CODES = (-1003, -1015)
_BANNED_UNTIL = re.compile(r"banned until (\d+)")
_DEFAULT_BACKOFF_S = 60.0


class BinanceRest:
    """Thread-safe as python-binance is: the user-data stream's thread takes listen keys and resyncs through it
    while the caller's thread trades. A rate limit or ban seen by either blocks both."""

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        base_url: str,
        timeout_s: float,
        recv_window_ms: int,
        monotonic: Callable[[], float],
        wall_ms: Callable[[], int],
        on_block: Callable[[int, str], None] | None = None,
        load_block: Callable[[], tuple[int, str] | None] | None = None,
    ) -> None:
        # testnet=False on the Client: its testnet flag would override FUTURES_URL.
        self._client = Client(api_key, api_secret, ping=False, requests_params={"timeout": timeout_s})
        self._client.FUTURES_URL = base_url + "/fapi"
        self._client.REQUEST_RECVWINDOW = recv_window_ms
        self._secrets = tuple(s for s in (api_key, api_secret) if s)
        self._monotonic, self._wall_ms = monotonic, wall_ms
        self._blocked_until = 0.0  # monotonic seconds: rate limit or ban in force until then
        self._blocked_why = ""  # and why, with the time it ends (UTC), for the gate's reason
        self._block_lock = threading.Lock()
        self._on_block = on_block  # told (wall ms it ends, why) of every block, to keep it past a restart
        # Read (at most once a second) for a block kept by another client of the same exchange: the market feed.
        self._load_block = load_block
        self._next_look = 0.0
        self._adopted: tuple[int, str] | None = None  # the kept block last taken in

    def close(self) -> None:
        self._client.session.close()

    # --- the server's clock ---------------------------------------------------------------------------------------

    def sync_time(self) -> int:
        """Set the client's timestamp offset from the server's clock (midpoint of the round trip)."""
        before = self._wall_ms()
        server = int(self._call("time", self._client.futures_time, _retry=False)["serverTime"])
        after = self._wall_ms()
        self._client.timestamp_offset = server - (before + after) // 2
        return int(self._client.timestamp_offset)

    def server_now_ms(self) -> int:
        """The server's time now, as far as the last `sync_time` knows it."""
        return self._wall_ms() + int(self._client.timestamp_offset)

    # --- account settings -----------------------------------------------------------------------------------------

    def exchange_info(self) -> dict[str, Any]:
        return self._call("exchangeInfo", self._client.futures_exchange_info)

    def change_position_mode(self, *, dual_side: bool) -> None:
        self._call(
            "positionSide", self._client.futures_change_position_mode, dualSidePosition="true" if dual_side else "false"
        )

    def change_leverage(self, symbol: str, leverage: int) -> None:
        self._call("leverage", self._client.futures_change_leverage, symbol=symbol, leverage=leverage)

    # --- orders ---------------------------------------------------------------------------------------------------

    def create_order(self, **params: Any) -> dict[str, Any]:
        """A regular order (`/fapi/v1/order`)."""
        return self._call("order", self._client.futures_create_order, **params)

    def create_algo_order(self, **params: Any) -> dict[str, Any]:
        """A conditional order: python-binance sends it to `/fapi/v1/algoOrder`, renaming stopPrice to triggerPrice."""
        return self._call("algoOrder", self._client.futures_create_order, **params)

    def cancel_order(self, symbol: str, client_order_id: str) -> dict[str, Any]:
        return self._call("order", self._client.futures_cancel_order, symbol=symbol, origClientOrderId=client_order_id)

    def cancel_algo_order(self, symbol: str, client_algo_id: str) -> None:
        self._call("algoOrder", self._client.futures_cancel_algo_order, symbol=symbol, clientAlgoId=client_algo_id)

    def order(self, symbol: str, client_order_id: str) -> dict[str, Any]:
        return self._call("order", self._client.futures_get_order, symbol=symbol, origClientOrderId=client_order_id)

    def order_by_id(self, symbol: str, order_id: int) -> dict[str, Any]:
        return dict(self._call("order", self._client.futures_get_order, symbol=symbol, orderId=order_id))

    def algo_order(self, symbol: str, client_algo_id: str) -> dict[str, Any]:
        return self._call("algoOrder", self._client.futures_get_algo_order, symbol=symbol, clientAlgoId=client_algo_id)

    def open_orders(self, **params: Any) -> list[dict[str, Any]]:
        return self._call("openOrders", self._client.futures_get_open_orders, **params)

    def open_algo_orders(self, **params: Any) -> list[dict[str, Any]]:
        return self._call("openAlgoOrders", self._client.futures_get_open_algo_orders, **params)

    # --- account --------------------------------------------------------------------------------------------------

    def position_risk(self) -> list[dict[str, Any]]:
        return self._call("positionRisk", self._client.futures_position_information)

    def balances(self) -> list[dict[str, Any]]:
        return self._call("balance", self._client.futures_account_balance)

    def user_trades(self, symbol: str, **params: Any) -> list[dict[str, Any]]:
        return list(self._call("userTrades", self._client.futures_account_trades, symbol=symbol, **params))

    # --- the user-data stream's listen key ------------------------------------------------------------------------

    def new_listen_key(self) -> str:
        return str(self._call("listenKey", self._client.futures_stream_get_listen_key))

    def keepalive_listen_key(self, key: str) -> None:
        self._call("listenKey", self._client.futures_stream_keepalive, listenKey=key)

    # --- calls and their failures ---------------------------------------------------------------------------------

    def blocked(self) -> str:
        """Why nothing may be sent now (a rate limit or an IP ban in force), or "" when requests may go."""
        self._adopt_kept_block()
        with self._block_lock:
            return self._blocked_why if self._blocked_until > self._monotonic() else ""

    def _call(self, label: str, fn: Callable[..., Any], *, _retry: bool = True, **params: Any) -> Any:
        self._check_blocked()
        for attempt in (0, 1):
            try:
                return fn(**params)
            except BinanceAPIException as e:
                if e.code == -1021 and _retry and attempt == 0:
                    self.sync_time()  # the request was refused: resending it cannot double it
                    continue
                raise self._map_api_error(label, e) from None
            except (requests.Timeout, requests.ConnectionError) as e:
                raise OutcomeUnknown(f"{label}: {type(e).__name__}, outcome unknown") from None
            except BinanceRequestException:
                raise OutcomeUnknown(f"{label}: unreadable answer, outcome unknown") from None
        raise AssertionError("unreachable")

    def _check_blocked(self) -> None:
        self._adopt_kept_block()
        with self._block_lock:
            remaining = self._blocked_until - self._monotonic()
        if remaining > 0:
            raise RateLimited(remaining)

    def _adopt_kept_block(self) -> None:
        if self._load_block is None or self._monotonic() < self._next_look:
            return
        self._next_look = self._monotonic() + 1.0
        kept = self._load_block()
        if kept is not None and kept != self._adopted:  # each kept block once: its time is the wall's
            self.restore_block(*kept)

    def restore_block(self, until_ms: int, why: str) -> bool:
        """A block kept from before a restart (wall ms it ends, why): in force now if it has not ended."""
        self._adopted = (until_ms, why)
        seconds = (until_ms - self._wall_ms()) / 1000
        if seconds <= 0:
            return False
        self._set_block(seconds, until_ms, why)
        return True

    def _block(self, seconds: float, why: str) -> None:
        until_ms = self._wall_ms() + int(seconds * 1000)
        self._adopted = (until_ms, why)  # what it keeps is its own: not to be taken in again
        if self._set_block(seconds, until_ms, why) and self._on_block is not None:
            try:
                self._on_block(until_ms, why)
            except Exception:  # the block holds in memory all the same
                log.exception("the block until %d could not be kept", until_ms)

    def _set_block(self, seconds: float, until_ms: int, why: str) -> bool:
        """True when this extends the block in force."""
        with self._block_lock:
            if self._monotonic() + seconds <= self._blocked_until:
                return False
            self._blocked_until = self._monotonic() + seconds
            until = time.strftime("%H:%M:%S", time.gmtime(until_ms / 1000))
            self._blocked_why = f"{why}: nothing is sent until {until} UTC"
            return True

    def _map_api_error(self, label: str, e: BinanceAPIException) -> ExchangeError:
        status, code = int(e.status_code), int(e.code or 0)
        message = self._scrub(str(e.message or ""))
        headers = getattr(e.response, "headers", None) or {}
        if status == 418:
            wait = _first(_retry_after(headers), self._ban_seconds(message), _DEFAULT_BACKOFF_S)
            self._block(wait, "IP banned by the exchange (HTTP 418)")
            log.warning("%s: IP banned by the exchange for %.0fs", label, wait)
            return RateLimited(wait)
        if status == 429 or code in _RATE_LIMIT_CODES:
            wait = _first(_retry_after(headers), _DEFAULT_BACKOFF_S)
            self._block(wait, f"rate limited by the exchange (HTTP {status}, {code})")
            return RateLimited(wait)
        if status >= 500 or code in _UNKNOWN_OUTCOME_CODES:
            return OutcomeUnknown(f"{label}: HTTP {status} {code}: {message}")
        return OrderRejected(code, message)

    def _ban_seconds(self, message: str) -> float | None:
        match = _BANNED_UNTIL.search(message)
        if match is None:
            return None
        return max(1.0, (int(match.group(1)) - self.server_now_ms()) / 1000)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _first(*values: float | None) -> float:
    """The first value given (0 included: "retry now" is an answer); the last is the default."""
    return next(v for v in values if v is not None)
