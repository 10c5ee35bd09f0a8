"""The exchange port: what the execution actor needs from an exchange, and nothing more.

Both the embedded paper exchange and the Binance adapter implement `ExchangePort`.
Everything that crosses the port is a frozen dataclass with `Decimal` prices,
quantities and money, so the execution actor handles both the same way.

Failure semantics, shared by every implementation:

* `OrderRejected(code, message)`: the exchange refused the request and nothing
  happened. Codes are Binance USD-M futures error codes (`RejectCode`), so the
  paper exchange rejects in the words the real one would.
* `OutcomeUnknown`: the request may or may not have reached the matching engine
  (timeout, 5xx, `-1006`/`-1007`). The caller must resolve it with
  `get_order(symbol, client_order_id)`, never by sending the order again.
* `RateLimited(retry_after_s)`: nothing happened; the caller may retry after
  the given delay with the same client order id.

Fills and order updates arrive through `drain_events()`: every implementation
queues them in the order the exchange produced them, and each call returns (and
forgets) what was queued since the previous call. Events may repeat what a call
already returned (a NEW after `place_order`): consumers apply them idempotently,
keyed by client order id and trade id (trade ids are per symbol).

`PositionChanged` says what a position is now, when the exchange says so or
changed it by itself: after a liquidation, an auto-deleverage or another
client's order (closed by hand on the website), each with its reason, and after
every account update (Binance's ACCOUNT_UPDATE, our own fills included) and
stream gap. Fills never vanish: a foreign order's fills come as `Fill`s under
its client id. The paper exchange changes positions only by our orders and
sends none.

Every caller uses the port alone, never an adapter's own methods: what only one
kind of exchange needs is on the port with a neutral meaning for the other
(`on_candle` matches the paper exchange's orders and means nothing to Binance,
which matches by itself; `to_state` is the paper account to save, None for an
exchange that keeps its own state; `configured_spread_bps` is the paper market's
spread, None for an exchange whose book the market feed reads; `close` ends a
live port's stream and session).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any, Protocol, runtime_checkable

from exchange.market import Candle, SymbolFilters

# Binance's own rule for newClientOrderId; enforced by the paper exchange too so
# that an id that would fail live fails in paper first.
CLIENT_ORDER_ID_PATTERN = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")


class OrderSide(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(StrEnum):
    MARKET = "MARKET"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"


class OrderStatus(StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"  # by our own cancel_order
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"  # removed by the exchange: a reduce-only order with nothing left to reduce

    @property
    def is_final(self) -> bool:
        return self not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class RejectCode(IntEnum):
    """Binance USD-M futures error codes used by the port's implementations."""

    FILTER_FAILURE = -1013
    ILLEGAL_CHARS = -1100
    MANDATORY_PARAM_EMPTY_OR_MALFORMED = -1102
    PARAM_NOT_REQUIRED = -1106
    PRECISION_OVER_MAXIMUM = -1111  # more decimals than the symbol's tick or step size allows
    BAD_SYMBOL = -1121
    UNKNOWN_ORDER = -2011  # cancel of an order that is not open
    NO_SUCH_ORDER = -2013
    ORDER_WOULD_IMMEDIATELY_TRIGGER = -2021
    REDUCE_ONLY_REJECT = -2022
    QTY_LESS_THAN_ZERO = -4003
    QTY_LESS_THAN_MIN_QTY = -4004
    PRICE_NOT_INCREASED_BY_TICK_SIZE = -4014
    INVALID_CLIENT_ORDER_ID = -4015
    QTY_NOT_INCREASED_BY_STEP_SIZE = -4023
    DUPLICATED_CLIENT_ORDER_ID = -4116
    MIN_NOTIONAL = -4164


# Refusals for a symbol's trading rules, which the exchange may have changed: read them again (`refresh_filters`).
FILTER_REJECTIONS = frozenset(
    {
        RejectCode.PRECISION_OVER_MAXIMUM,
        RejectCode.FILTER_FAILURE,
        RejectCode.PRICE_NOT_INCREASED_BY_TICK_SIZE,
        RejectCode.QTY_NOT_INCREASED_BY_STEP_SIZE,
        RejectCode.QTY_LESS_THAN_MIN_QTY,
    }
)


class ExchangeError(Exception):
    """Base of every failure an exchange port raises."""


class OrderRejected(ExchangeError):
    """The exchange refused the request; nothing was done."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class OutcomeUnknown(ExchangeError):
    """The request may have been executed: resolve with `get_order`, never resend."""


class NotFoundYet(OutcomeUnknown):
    """Not found, but the request that would have placed it lost its answer a short while ago: it may still appear.
    An entry waits (never resend it); a reduce-only protective order may be placed again under a new client id,
    since two resting stops cannot open anything (the one not current is cancelled once it shows)."""


class RateLimited(ExchangeError):
    """The exchange throttled us; nothing was done."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after_s}s")
        self.retry_after_s = retry_after_s


class UnknownSymbol(ExchangeError, KeyError):
    """No trading rules are known for the symbol."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRequest:
    """An order as the execution actor asks for it; `client_order_id` is the idempotency key."""

    client_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    quantity: Decimal
    trigger_price: Decimal | None = None  # required for STOP_MARKET / TAKE_PROFIT_MARKET only
    reduce_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderState:
    """The exchange's view of one order at `updated_at` (UTC ms).

    `filled_qty` may stay below `quantity` on a FILLED reduce-only order: the
    exchange clipped it to the position it closed.
    """

    client_order_id: str
    exchange_order_id: int
    symbol: str
    side: OrderSide
    type: OrderType
    quantity: Decimal
    trigger_price: Decimal | None
    reduce_only: bool
    status: OrderStatus
    filled_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    reject_code: int | None = None
    reject_message: str = ""
    updated_at: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One execution. `realized_pnl` excludes the fee, as Binance reports it."""

    client_order_id: str
    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal
    at: int
    trade_id: int
    fee_asset: str = "USDT"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangePosition:
    """Net position of a symbol (one-way mode): quantity > 0 long, < 0 short."""

    symbol: str
    quantity: Decimal
    entry_price: Decimal
    unrealized_pnl: Decimal
    mark_price: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Balance:
    asset: str
    wallet_balance: Decimal  # deposits + realized PnL - fees
    unrealized_pnl: Decimal

    @property
    def equity(self) -> Decimal:
        """What Binance calls the margin balance."""
        return self.wallet_balance + self.unrealized_pnl


class PositionChangeReason(StrEnum):
    """Why `PositionChanged` says a position changed."""

    LIQUIDATION = "liquidation"  # the exchange's liquidation engine (Binance: an `autoclose-...` order)
    AUTO_DELEVERAGE = "auto-deleverage"  # ADL: the exchange closed it against a liquidated counterparty
    OTHER_CLIENT = "closed by another client"  # an order that is not ours: the website, another program
    SETTLEMENT = "settlement"  # a delivery contract settled
    ACCOUNT_UPDATE = "account update"  # the exchange's word on the position, with no foreign order behind it
    RESYNC = "read after a stream gap"  # the position as read through REST after events were missed


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionChanged:
    """The exchange says `symbol`'s net position is now `quantity` (> 0 long, < 0 short, 0 flat) as of `at`.

    `reason` is a `PositionChangeReason` value: a liquidation, an auto-deleverage or another client's order (with
    that order's `client_order_id`) changed it; or it is the exchange's word after a change of any kind, ours
    included ("account update"), or the position read after a stream gap. The fills of foreign orders come as
    `Fill`s too, under the foreign client id.
    """

    symbol: str
    quantity: Decimal
    reason: str
    at: int
    client_order_id: str = ""  # the foreign order that changed it, when one did


ExchangeEvent = Fill | OrderState | PositionChanged


@runtime_checkable
class ExchangePort(Protocol):
    """One account on one exchange, one-way position mode, USDT-margined."""

    def place_order(self, request: OrderRequest) -> OrderState:
        """Submit; raises OrderRejected, OutcomeUnknown or RateLimited."""
        ...

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        """Cancel an open order; OrderRejected(UNKNOWN_ORDER) when it is not open."""
        ...

    def get_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """The order with this client id, or None if the exchange never accepted it.

        Raises OutcomeUnknown when it cannot tell yet: Binance may answer "does not exist" for a while about an
        order whose request timed out, and then show it (filled); until a grace after such a timeout, "not found"
        is not an answer."""
        ...

    def order_fills(self, symbol: str, client_order_id: str) -> tuple[Fill, ...]:
        """Every fill of the order with this client id, oldest first (what the stream would have said); raises
        OutcomeUnknown as `get_order` does while an order whose request timed out cannot be found yet."""
        ...

    def open_orders(self, symbol: str | None = None) -> tuple[OrderState, ...]: ...

    def positions(self) -> tuple[ExchangePosition, ...]:
        """Every non-flat position."""
        ...

    def balance(self) -> Balance: ...

    def symbol_filters(self, symbol: str) -> SymbolFilters:
        """Raises UnknownSymbol when the exchange has no rules for it."""
        ...

    def refresh_filters(self) -> None:
        """Read every symbol's trading rules from the exchange again; `symbol_filters` answers with them from now.

        Binance changes tick and step sizes now and then, and then refuses orders made to the old ones (-4014
        price off the tick, -4023 quantity off the step, -1111 too many decimals): call it periodically and after
        such a refusal (`FILTER_REJECTIONS`); the port never does it by itself. The paper exchange: nothing to read
        again."""
        ...

    def drain_events(self) -> tuple[ExchangeEvent, ...]:
        """Fills, order updates and position changes since the previous call, oldest first."""
        ...

    def pending_events(self) -> tuple[ExchangeEvent, ...]:
        """What `drain_events` would return now, left queued (a dry-run recovery shows it)."""
        ...

    def reports_every_change(self) -> bool:
        """True when every change of the account, ours or anyone's, reaches `drain_events` (the paper exchange: it
        is the account, and queues every fill and order state): the caller need not compare positions and open
        orders with it periodically. False when a change can go unreported (Binance: a stream gap, a close by hand
        whose update was lost): the caller compares them at least every `exchange.reconcile_every_s`."""
        ...

    def blocked(self) -> str:
        """Why nothing may be sent now (a rate limit or ban in force, every call raising `RateLimited`), or ""."""
        ...

    def health(self) -> str:
        """ "" when what reports fills and order updates is live, else why not, for a person.

        Binance: the user-data stream is connected and was heard from (a frame, or the answer to its ping)
        within its expected interval; else e.g. "user-data stream disconnected since 2026-11-22 10:00:00 UTC" or
        "user-data stream silent for 95 s". Meanwhile fills may arrive late (a resync reads them after a
        reconnect), so a caller pauses new entries. The paper exchange: always ""."""
        ...

    def on_candle(self, candle: Candle) -> None:
        """A closed candle of a traded symbol, in time order: an exchange that matches from candles does it here."""
        ...

    def configured_spread_bps(self, symbol: str) -> float | None:
        """The best bid/ask spread of `symbol` in basis points when the exchange simulates it (the paper exchange's
        setting: what its fills charge), else None: a real exchange's spread is its book's, which the market feed
        reads (Binance's book-ticker stream)."""
        ...

    def to_state(self) -> dict[str, Any] | None:
        """The account as JSON-able data to save and restore from, or None when the exchange keeps its own."""
        ...

    def revision(self) -> int:
        """A number that changes whenever what `to_state` returns changes (and only compares for equality): the
        caller saves the account only when it differs from the one it saved. Constant when `to_state` is None."""
        ...

    def close(self) -> None:
        """Release what the port holds (streams, sessions); resting orders stay on the exchange."""
        ...
