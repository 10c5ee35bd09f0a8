"""Faults the fake server injects on demand: `server.faults.<name>(...)`.

Request faults are rules matched against method and path (None matches any);
one-shot rules are consumed by the first request they match. They are checked
after authentication, so a faulted request was a valid one.

Fills: `fill_in_trades(shares, ticks=..., orders=N)` splits the next N market
orders into trades at different prices (`partial_fills(parts)`: equal parts at
one price); `pay_fees_in("BNB", price)` charges fees in BNB. Trade ids are
numbered per symbol, as on Binance.

Lost answers: `timeout_next(count=N, execute=...)` (the answer held past the
client's timeout; executed or not), `server_error_next` (5xx, executed or not),
and `late_order(lookups=K | seconds=T)`: the order is not found (-2013) for K
lookups or T seconds, then appears and executes (`release_late_orders()` ends
the wait). Each takes `path` ("/fapi/v1/algoOrder" for protective orders).
Throttling: `rate_limit_next(retry_after_s, count=N)` (429), `ban_next(seconds)`
(418; every request until the ban ends is refused too and recorded in `during_ban`).
Rules: `change_filters(symbol, tick_size=, step_size=, min_qty=, min_notional=)`
changes them at once, in exchangeInfo too (orders off them: -4014, -4023, -1111).

Streams: `send_user_frame(frame)` / `send_market_frame(frame)` send one frame as
given (malformed, not JSON, an unknown event); `mute_streams(user=, market=)`
keeps connections open but silent (frames lost, pings unanswered);
`drop_user_streams()`, `block_user_streams()` / `unblock_user_streams()`,
`expire_listen_key()`.

Behind the service's back: `liquidate(symbol, price)`, `auto_deleverage(symbol,
price, quantity=)`, `close_by_hand(symbol, price, quantity=)`, each followed by
an ACCOUNT_UPDATE with the new position amount.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from scripts.fake_binance.errors import ApiError
from scripts.fake_binance.fills import FillPlan
from scripts.fake_binance.late import LateOrders

if TYPE_CHECKING:
    from scripts.fake_binance.server import FakeBinance


@dataclass(slots=True)
class Rule:
    method: str | None
    path: str | None
    count: int  # how many requests it still applies to; -1: until cleared
    status: int = 0  # error response; 0 means none (latency / hold only)
    code: int = 0
    msg: str = ""
    headers: dict[str, str] | None = None
    execute: bool = False  # run the request for real before answering with the error
    hold_s: float = 0.0  # delay the response this long (after executing, for a timeout)
    late: tuple[int | None, float | None] | None = None  # (lookups, seconds): the order appears late (`late.py`)

    def matches(self, method: str, path: str) -> bool:
        return self.method in (None, method) and self.path in (None, path)


class Faults:
    def __init__(self, server: FakeBinance) -> None:
        self._server = server
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self.clock_skew_ms = 0
        self.user_stream_blocked = False
        self.user_muted = False
        self.market_muted = False
        self.late = LateOrders()
        # A ban, as Binance enforces it: once a 418 is answered, every REST request until `banned_until` (server
        # ms) is refused with 418 too, and recorded in `during_ban` as (ms since the ban began, method, path).
        self.banned_until = 0
        self.banned_since = 0
        self.during_ban: list[tuple[int, str, str]] = []

    def take(self, method: str, path: str) -> list[Rule]:
        """The rules that apply to this request, consuming one-shot ones."""
        found: list[Rule] = []
        with self._lock:
            for rule in list(self._rules):
                if rule.matches(method, path):
                    found.append(rule)
                    if rule.count > 0:
                        rule.count -= 1
                        if rule.count == 0:
                            self._rules.remove(rule)
        return found

    def _add(self, rule: Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
        self.clock_skew_ms = 0

    # --- request faults -----------------------------------------------------------------------

    def latency(self, seconds: float, *, method: str | None = None, path: str | None = None) -> None:
        """Every matching request is answered `seconds` late, until `clear()`."""
        self._add(Rule(method, path, -1, hold_s=seconds))

    def timeout_next(
        self,
        *,
        method: str | None = "POST",
        path: str | None = "/fapi/v1/order",
        hold_s: float = 30.0,
        count: int = 1,
        execute: bool = True,
    ) -> None:
        """The next `count` matching requests are answered only after `hold_s` (past the client's timeout):
        executed all the same, or (`execute=False`) never reaching the matching engine."""
        if execute:
            self._add(Rule(method, path, count, execute=True, hold_s=hold_s))
        else:
            self._add(Rule(method, path, count, status=503, code=-1001, msg="Service Unavailable.", hold_s=hold_s))

    def late_order(
        self,
        *,
        path: str = "/fapi/v1/order",
        lookups: int | None = 2,
        seconds: float | None = None,
        hold_s: float = 30.0,
        count: int = 1,
    ) -> None:
        """The next `count` POSTs to `path` (/fapi/v1/order or /fapi/v1/algoOrder) time out without reaching the
        matching engine (held `hold_s`, then a 503); each order then answers -2013 "Order does not exist." to the
        next `lookups` GETs by its client id, or (with `seconds`) until that long on the fake's clock, whichever
        ends first, and then exists and executes (see `late.py`)."""
        if lookups is None and seconds is None:
            raise ValueError("a late order needs lookups or seconds")
        self._add(
            Rule(
                "POST",
                path,
                count,
                status=503,
                code=-1001,
                msg="Internal error; unable to process your request. Please try again.",
                hold_s=hold_s,
                late=(lookups, seconds),
            )
        )

    def release_late_orders(self) -> list[str]:
        """Every late order appears (and executes) now; their client ids."""
        return self._server.release_late_orders()

    def server_error_next(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int = 503,
        execute: bool = False,
        count: int = 1,
    ) -> None:
        """5xx; with `execute` the request took effect anyway (Binance: "execution status unknown")."""
        self._add(
            Rule(
                method,
                path,
                count,
                status=status,
                code=-1001,
                execute=execute,
                msg="Internal error; unable to process your request. Please try again.",
            )
        )

    def reject_next(
        self,
        code: int,
        msg: str,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int = 400,
        count: int = 1,
    ) -> None:
        """An error answer instead of the request: -2019, -4164, -1021, ..."""
        self._add(Rule(method, path, count, status=status, code=code, msg=msg))

    def rate_limit_next(
        self, retry_after_s: int = 3, *, method: str | None = None, path: str | None = None, count: int = 1
    ) -> None:
        """HTTP 429 / -1003 with a Retry-After header."""
        self._add(
            Rule(
                method,
                path,
                count,
                status=429,
                code=-1003,
                headers={"Retry-After": str(retry_after_s)},
                msg="Too many requests; current limit is 2400 requests per minute. Please use the "
                "websocket for live updates to avoid polling the API.",
            )
        )

    def ban_next(self, seconds: int = 120, *, method: str | None = None, path: str | None = None) -> None:
        """HTTP 418: the IP is banned until a time given in the message (and Retry-After), counted from the matching
        request; from then on every REST request is refused with 418 until the ban ends (`banned`)."""
        until = self._server.now_ms() + seconds * 1000
        self._add(
            Rule(
                method,
                path,
                1,
                status=418,
                code=-1003,
                headers={"Retry-After": str(seconds)},
                msg=f"Way too many requests; IP banned until {until}. Please use the websocket for "
                "live updates to avoid bans.",
            )
        )

    def banned(self, method: str, path: str, now_ms: int) -> ApiError | None:
        """The 418 for a request made while a ban is in force (recorded), or None."""
        with self._lock:
            if now_ms >= self.banned_until:
                return None
            self.during_ban.append((now_ms - self.banned_since, method, path))
            until = self.banned_until
        return ApiError(
            418,
            -1003,
            f"Way too many requests; IP banned until {until}. Please use the websocket for live updates to avoid bans.",
            {"Retry-After": str(max(1, (until - now_ms + 999) // 1000))},
        )

    def lift_ban(self) -> None:
        """The ban ends now (a test whose client clock has moved past it)."""
        with self._lock:
            self.banned_until = 0

    def ban_begins(self, rule: Rule, now_ms: int) -> None:
        """A 418 rule was answered: the ban it names is in force from now."""
        until = int(rule.msg.split("banned until ", 1)[1].split(".", 1)[0])
        with self._lock:
            self.banned_since, self.banned_until = now_ms, max(self.banned_until, until)

    def change_filters(
        self,
        symbol: str,
        *,
        tick_size: Decimal | str | None = None,
        step_size: Decimal | str | None = None,
        min_qty: Decimal | str | None = None,
        min_notional: Decimal | str | None = None,
    ) -> None:
        """Binance changes a symbol's trading rules: orders are checked against the new ones at once (a trigger
        off the tick: -4014; more decimals than the tick or step allow: -1111) and exchangeInfo says so."""
        self._server.change_filters(
            symbol,
            **{
                name: Decimal(value)
                for name, value in (
                    ("tick", tick_size),
                    ("step", step_size),
                    ("min_qty", min_qty),
                    ("min_notional", min_notional),
                )
                if value is not None
            },
        )

    def skew_clock(self, ms: int) -> None:
        """Move the server's clock: the client's timestamps fall outside recvWindow until it resyncs."""
        self.clock_skew_ms = ms

    # --- fills ----------------------------------------------------------------------------------

    def fill_in_trades(
        self,
        shares: Sequence[Decimal | str] = ("0.3", "0.7"),
        *,
        ticks: Sequence[int] | None = None,
        orders: int = 1,
        expire_remainder: bool = False,
    ) -> None:
        """The next `orders` market orders (entries, exits, triggered stops) each fill in one trade per share of
        their quantity, the trade i `ticks[i]` ticks worse than the market (default 0, 1, 2, ...): each trade
        its own ORDER_TRADE_UPDATE (PARTIALLY_FILLED, then FILLED) with its own trade id, and its own userTrades
        row. With `expire_remainder` only the first trade executes and the rest of the order expires."""
        plan = FillPlan.of(shares, ticks, expire_remainder=expire_remainder)
        with self._server.engine.lock:
            self._server.engine.fill_plans.extend([plan] * orders)

    def pay_fees_in(self, asset: str = "BNB", price: Decimal | str = "600") -> None:
        """Fees from now on are paid in `asset` (BNB) worth `price` USDT: the fee is the USDT fee over `price`,
        `N` / commissionAsset name the asset, and the USDT wallet pays none. `pay_fees_in("USDT", 1)` undoes it."""
        with self._server.engine.lock:
            self._server.engine.fee_asset, self._server.engine.fee_asset_price = asset, Decimal(price)

    def partial_fills(self, parts: int = 2, *, expire_remainder: bool = False) -> None:
        """The next market order fills in `parts` trades of one size (in steps; at most one per step) at one
        price; with `expire_remainder` only the first executes."""
        plan = FillPlan.equal_parts(parts, expire_remainder=expire_remainder)
        with self._server.engine.lock:
            self._server.engine.fill_plans.append(plan)

    # --- user stream ----------------------------------------------------------------------------

    def drop_user_streams(self) -> None:
        """Close every user-data WebSocket; clients may reconnect at once."""
        self._server.close_user_streams()

    def block_user_streams(self) -> None:
        """Close them and refuse new ones: the client is "away" until `unblock_user_streams()`."""
        self.user_stream_blocked = True
        self._server.close_user_streams()

    def unblock_user_streams(self) -> None:
        self.user_stream_blocked = False

    def mute_streams(self, *, user: bool = True, market: bool = False) -> None:
        """The chosen streams go silent while staying connected (a half-open link): their frames are lost and
        their pings unanswered until `unmute_streams()` (websockets' keepalive gives up after about 40 s)."""
        self.user_muted, self.market_muted = user, market

    def unmute_streams(self) -> None:
        self.user_muted = self.market_muted = False

    def send_user_frame(self, frame: str | dict[str, Any]) -> None:
        """One frame as given to every user-data connection: a malformed event, a non-JSON text, an unknown one."""
        self._server.send_frame(frame, user=True)

    def send_market_frame(self, frame: str | dict[str, Any]) -> None:
        """One frame as given to every market-stream connection (unwrapped: a combined-stream reader takes a
        bare event too)."""
        self._server.send_frame(frame, user=False)

    def expire_listen_key(self) -> None:
        """Every listen key expires: `listenKeyExpired` is sent, the streams close, keepalive gets -1125."""
        self._server.expire_listen_keys()

    # --- the account, behind the service's back -------------------------------------------------------

    def liquidate(self, symbol: str, price: Decimal | str | None = None) -> None:
        """The liquidation engine closes the position at `price` (an `autoclose-...` order, one CALCULATED
        fill, as in user_stream/futures_order_update_liquidation.json), then an ACCOUNT_UPDATE."""
        self._server.outside_close(symbol, _dec(price), "liquidation")

    def auto_deleverage(
        self, symbol: str, price: Decimal | str | None = None, *, quantity: Decimal | str | None = None
    ) -> None:
        """ADL: Binance closes the position (or `quantity` of it) against a liquidated counterparty
        (`adl_autoclose`, one CALCULATED fill, as in futures_order_update_adl.json), then an ACCOUNT_UPDATE."""
        self._server.outside_close(symbol, _dec(price), "adl", _dec(quantity))

    def close_by_hand(
        self, symbol: str, price: Decimal | str | None = None, *, quantity: Decimal | str | None = None
    ) -> None:
        """A person closes the position (or `quantity` of it) on the website: a `web_...` market order."""
        self._server.outside_close(symbol, _dec(price), "web", _dec(quantity))


def _dec(value: Decimal | str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
