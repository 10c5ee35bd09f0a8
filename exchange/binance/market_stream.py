"""The Binance feed: closed klines of every symbol from the USD-M market streams, after a REST warm-up,
and the latest mark price and best bid/ask of each symbol from the same connection.

`batches()` has the shape of the other feeds (one tuple of candles per time step,
oldest first, at most one candle per symbol), with one addition a live feed
needs: while nothing has closed it yields an empty tuple every `idle_s`, so the
driver keeps its policy timer and notices a stop request.

Order of work: the market stream is opened first, then the warm-up is read
through REST (`/fapi/v1/klines`), so no kline closing meanwhile is lost; a kline
the stream and REST both report is delivered once. A step is complete when every
symbol's kline of that open time arrived, or `grace_s` after its first one (a
symbol with no trades closes no kline), or when a later step begins. A kline of a
step already delivered is dropped (counted in `late`): steps never go back.

After a dropped connection the feed reconnects and, before reading the new
socket, fetches through REST what closed since the last kline it has: a gap
never loses a step.

Mark prices (`<symbol>@markPrice@1s`) never make candles or steps: `marks()` holds
the newest one per symbol, for anyone on any thread (the runner's heartbeat).
A mark missed during a gap is simply replaced by the next one, a second later.
Book tickers (`<symbol>@bookTicker`, on every change of the best bid or ask) make
no steps either: `spreads()` holds each symbol's spread now, the cost an entry at
market would cross, for the policy's spread cap. The last one stands through a
gap (Binance sends a ticker only on a change; a dead stream pauses trading).

A frame it cannot read is counted in `skipped` and skipped (`websocket.py`);
`health()` says whether klines or marks are arriving.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from binance.client import Client
from binance.exceptions import BinanceAPIException, BinanceRequestException
from requests import RequestException

from exchange.binance.market_events import (
    INTERVAL_MS,
    BookTickerEvent,
    KlineEvent,
    MarkPriceEvent,
    kline_from_rest,
    parse_market_event,
)
from exchange.binance.websocket import ReconnectingWebSocket
from exchange.market import Candle, merge_by_time

log = logging.getLogger("quantum_trader.feed")
MAX_KLINES_PER_REQUEST = 1500  # Binance's limit on /fapi/v1/klines
BANNED_UNTIL = re.compile(r"banned until (\d+)")
DEFAULT_BLOCK_S = 60.0  # a 418 or 429 that says neither when it ends nor how long to wait


class FeedError(Exception):
    """The feed cannot start (the exchange unreachable, an unknown interval); the message says why."""


class BinanceKlineFeed:
    def __init__(
        self,
        symbols: Sequence[str],
        *,
        base_url: str,
        ws_url: str,
        interval: str = "1m",
        warmup: int = 300,
        idle_s: float = 0.5,
        grace_s: float = 3.0,
        reconnect_delay_s: float = 1.0,
        max_reconnect_delay_s: float = 60.0,
        open_timeout_s: float = 10.0,
        timeout_s: float = 10.0,
        silence_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        load_block: Callable[[], tuple[int, str] | None] | None = None,
        save_block: Callable[[int, str], None] | None = None,
    ) -> None:
        if interval not in INTERVAL_MS:
            raise FeedError(f"feed.interval {interval!r} is not a Binance kline interval ({', '.join(INTERVAL_MS)})")
        self.symbols = tuple(symbols)
        self.interval, self.interval_ms = interval, INTERVAL_MS[interval]
        self.warmup = warmup
        self.idle_s, self.grace_s, self.silence_s = idle_s, grace_s, silence_s
        self._monotonic, self._wall_ms = monotonic, wall_ms
        # A ban or rate limit of the IP, shared with the account's port through the database: (wall ms it ends, why).
        self._load_block, self._save_block = load_block, save_block
        self._block: tuple[int, str] | None = None  # one this feed met itself
        self._said = 0  # the end of the last block logged
        self._closed = threading.Event()
        self._unknown_kinds: set[str] = set()
        self._client = Client(None, None, ping=False, requests_params={"timeout": timeout_s})
        self._client.FUTURES_URL = base_url.rstrip("/") + "/fapi"
        streams = "/".join(
            f"{s.lower()}@kline_{interval}/{s.lower()}@markPrice@1s/{s.lower()}@bookTicker" for s in self.symbols
        )
        self._url = f"{ws_url.rstrip('/')}/market/stream?streams={streams}"
        self._klines: queue.Queue[KlineEvent] = queue.Queue()
        self._last: dict[str, int] = {}  # symbol -> open time of its newest kline taken in (REST or stream)
        self._emitted = -1  # open time of the newest step delivered
        self._marks: dict[str, Decimal] = {}  # written by the stream thread, read from any other
        self._marks_changed = threading.Condition()
        self._books: dict[str, BookTickerEvent] = {}  # written by the stream thread, read under its lock
        self._books_changed = threading.Condition()
        self._stream = ReconnectingWebSocket(
            name="binance-market-stream",
            url=lambda: self._url,
            on_open=self._on_open,
            on_message=self._on_message,
            on_failure=self._on_failure,
            retry_on=(FeedError,),
            reconnect_delay_s=reconnect_delay_s,
            max_reconnect_delay_s=max_reconnect_delay_s,
            open_timeout_s=open_timeout_s,
            monotonic=monotonic,
            wall_ms=wall_ms,
        )
        self.late = 0

    @property
    def stream(self) -> ReconnectingWebSocket:
        """The combined market-stream connection: one for the klines and marks of every symbol."""
        return self._stream

    @property
    def skipped(self) -> Counter[str]:
        """Frames skipped, by kind: "not JSON", "missing field", "wrong type", "bad value", "unknown event"."""
        return self._stream.skipped

    def health(self) -> str:
        """ "" when the market stream is connected and a kline, mark price or book ticker arrived within `silence_s`
        (Binance sends each symbol's mark every second); else why not, for a person."""
        return self._stream.health("market stream", self.silence_s)

    def batches(self) -> Iterator[tuple[Candle, ...]]:
        self._stream.start()
        try:
            if not self._stream.connected.wait(self._stream.open_timeout_s + 1):
                raise FeedError(f"the market stream at {self._url.split('?')[0]} did not connect")
            history = self._warmup()
            count = sum(len(b) for b in history)
            log.info(
                "Binance feed: warm-up of %d closed %s klines of %s", count, self.interval, ", ".join(self.symbols)
            )
            yield from history
            log.info("Binance feed: live klines from the market stream (%s)", self.interval)
            yield from self._live()
        finally:
            self.close()

    def close(self) -> None:
        self._closed.set()
        self._stream.stop()
        self._client.session.close()

    # --- REST ----------------------------------------------------------------------------------

    def _warmup(self) -> list[tuple[Candle, ...]]:
        now = self._server_time()
        per_symbol = []
        for symbol in self.symbols:
            rows = self._rest_klines(symbol, limit=min(self.warmup + 1, MAX_KLINES_PER_REQUEST))
            events = [e for e in (kline_from_rest(symbol, self.interval, row) for row in rows) if e.close_time < now]
            events = events[-self.warmup :] if self.warmup else []
            if events:
                self._last[symbol] = events[-1].open_time
            per_symbol.append([e.candle() for e in events])
        batches = list(merge_by_time(per_symbol))
        if batches:
            self._emitted = batches[-1][0].open_time
        return batches

    def _backfill(self) -> None:
        """After a gap: what closed since each symbol's newest kline, queued like stream events."""
        now = self._server_time()
        for symbol in self.symbols:
            since = self._last.get(symbol)
            params = {"startTime": since + self.interval_ms} if since is not None else {}
            for row in self._rest_klines(symbol, limit=MAX_KLINES_PER_REQUEST, **params):
                event = kline_from_rest(symbol, self.interval, row)
                if event.close_time < now:
                    self._klines.put(event)

    def _server_time(self) -> int:
        return int(self._rest("time", self._client.futures_time)["serverTime"])

    def _rest_klines(self, symbol: str, **params: Any) -> list[list[Any]]:
        return list(self._rest("klines", self._client.futures_klines, symbol=symbol, interval=self.interval, **params))

    def _rest(self, label: str, fn: Callable[..., Any], **params: Any) -> Any:
        """A public REST call, never sent during a ban or rate limit of the IP: it waits for the end (a 418 or
        429 met here is kept for the account's port too, and waited out)."""
        while True:
            self._wait_out_block()
            try:
                return fn(**params)
            except BinanceAPIException as e:
                if int(e.status_code) not in (418, 429):
                    raise FeedError(f"{label}: {e.status_code} {e.code} {e.message}") from None
                self._keep_block(int(e.status_code), e)
            except (BinanceRequestException, RequestException) as e:
                raise FeedError(f"{label}: {type(e).__name__}") from None

    def _wait_out_block(self) -> None:
        blocks = [b for b in (self._block, self._load_block() if self._load_block else None) if b is not None]
        if not blocks:
            return
        until_ms, why = max(blocks)
        seconds = (until_ms - self._wall_ms()) / 1000
        if seconds <= 0:
            return
        if until_ms != self._said:
            self._said = until_ms
            ends = time.strftime("%H:%M:%S", time.gmtime(until_ms / 1000))
            log.warning("Binance feed: %s; no request until %s UTC", why, ends)
        if self._closed.wait(seconds):
            raise FeedError(f"stopped while waiting for the end of: {why}")

    def _keep_block(self, status: int, error: BinanceAPIException) -> None:
        headers = getattr(error.response, "headers", None) or {}
        try:
            seconds = float(headers.get("Retry-After", DEFAULT_BLOCK_S))
        except ValueError:
            seconds = DEFAULT_BLOCK_S
        until = BANNED_UNTIL.search(str(error.message or ""))
        until_ms = int(until.group(1)) if until else self._wall_ms() + int(seconds * 1000)
        why = (
            "IP banned by the exchange (HTTP 418)" if status == 418 else f"rate limited by the exchange (HTTP {status})"
        )
        self._block = (until_ms, why)
        if self._save_block is not None:
            self._save_block(until_ms, why)

    # --- the stream ----------------------------------------------------------------------------

    def _on_open(self, reconnect: bool) -> None:
        if reconnect:
            self._backfill()  # the socket is open first: nothing closing meanwhile is lost

    def _on_message(self, message: Any) -> bool:
        event = parse_market_event(message)  # a frame it cannot read raises: the socket counts and skips it
        if isinstance(event, KlineEvent):
            self._stream.heard()
            self._on_kline(event)
        elif isinstance(event, MarkPriceEvent):
            self._stream.heard()
            self._on_mark(event)
        elif isinstance(event, BookTickerEvent):
            self._stream.heard()
            self._on_book(event)
        else:
            first = event.event_type not in self._unknown_kinds
            self._unknown_kinds.add(event.event_type)
            self._stream.skip("unknown event", f"{event.event_type!r} not read", quiet=not first)
        return True

    def _on_failure(self, error: Exception) -> float:
        """The least to wait before the next session: nothing beyond the socket's backoff."""
        log.warning("Binance market stream: %s: %s; reconnecting", type(error).__name__, error)
        return 0.0

    def _on_kline(self, event: KlineEvent) -> None:
        if event.closed and event.symbol in self.symbols:
            self._klines.put(event)

    def _on_mark(self, event: MarkPriceEvent) -> None:
        if event.symbol in self.symbols:
            with self._marks_changed:
                self._marks[event.symbol] = event.mark_price
                self._marks_changed.notify_all()

    def marks(self) -> dict[str, Decimal]:
        """The latest mark price of each symbol that has had one: a copy, safe to read from any thread."""
        with self._marks_changed:
            return dict(self._marks)

    def _on_book(self, event: BookTickerEvent) -> None:
        if event.symbol in self.symbols:
            with self._books_changed:
                self._books[event.symbol] = event
                self._books_changed.notify_all()

    def spreads(self) -> dict[str, float]:
        """The best bid/ask spread of each symbol that has had a book ticker, in basis points of the mid: a copy,
        safe to read from any thread."""
        with self._books_changed:
            books = list(self._books.values())
        return {book.symbol: book.spread_bps for book in books}

    def books(self) -> dict[str, tuple[Decimal, Decimal]]:
        """The best (bid, ask) of each symbol that has had a book ticker."""
        with self._books_changed:
            return {symbol: (book.bid, book.ask) for symbol, book in self._books.items()}

    def wait_books(self, predicate: Callable[[Mapping[str, tuple[Decimal, Decimal]]], bool], timeout: float) -> bool:
        """Until `predicate(books)` holds (True) or `timeout` seconds passed (False)."""
        with self._books_changed:
            return self._books_changed.wait_for(
                lambda: predicate({s: (b.bid, b.ask) for s, b in self._books.items()}), timeout
            )

    def wait_marks(self, predicate: Callable[[Mapping[str, Decimal]], bool], timeout: float) -> bool:
        """Until `predicate(marks)` holds (True) or `timeout` seconds passed (False)."""
        with self._marks_changed:
            return self._marks_changed.wait_for(lambda: predicate(self._marks), timeout)

    def _live(self) -> Iterator[tuple[Candle, ...]]:
        pending: dict[int, dict[str, Candle]] = {}
        first_seen: dict[int, float] = {}
        while True:
            try:
                event: KlineEvent | None = self._klines.get(timeout=self.idle_s)
            except queue.Empty:
                event = None
            if event is not None:
                self._take(event, pending, first_seen)
            ready = self._ready(pending, first_seen)
            if not ready:
                if event is None:
                    yield ()
                continue
            for at in ready:
                first_seen.pop(at, None)
                step = pending.pop(at)
                self._emitted = at
                yield tuple(step[s] for s in self.symbols if s in step)

    def _take(self, event: KlineEvent, pending: dict[int, dict[str, Candle]], first_seen: dict[int, float]) -> None:
        symbol, at = event.symbol, event.open_time
        if at <= self._last.get(symbol, -1):
            return  # reported twice (REST and stream): taken already
        self._last[symbol] = at
        if at <= self._emitted:
            self.late += 1
            log.warning("Binance feed: %s kline of %d arrived after its step was delivered; dropped", symbol, at)
            return
        pending.setdefault(at, {})[symbol] = event.candle()
        first_seen.setdefault(at, self._monotonic())

    def _ready(self, pending: dict[int, dict[str, Candle]], first_seen: dict[int, float]) -> list[int]:
        """The steps to deliver now, oldest first: up to the newest one that is complete or waited enough."""
        times = sorted(pending)
        now = self._monotonic()
        last_ready = None
        for index, at in enumerate(times):
            later_began = index + 1 < len(times)
            if len(pending[at]) == len(self.symbols) or now - first_seen[at] >= self.grace_s or later_began:
                last_ready = index
        return [] if last_ready is None else times[: last_ready + 1]
