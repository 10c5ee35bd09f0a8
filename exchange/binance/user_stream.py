"""The Binance user-data stream: one connection whose events `EventTranslator` (`translator.py`) turns into the
port's events.

`UserStream` keeps one connection (`websocket.py`): it takes a listen key (POST),
connects, keeps the key alive (PUT) and, when the key expires, the keepalive is
refused or the socket drops, takes a key again and reconnects. Every connection
after the first is a gap: before reading the new connection, the `resync` callback
reconciles orders and fills through REST, given the gap (server ms: when the
previous session last heard anything, when this one opened). The socket is
opened first, so nothing that happens during the resync is lost; it is read
afterwards.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from exchange.binance.payloads import UnknownEvent
from exchange.binance.translator import EventTranslator
from exchange.binance.user_events import ListenKeyExpired, parse_user_event
from exchange.binance.websocket import ReconnectingWebSocket
from exchange.port import ExchangeError, RateLimited

log = logging.getLogger(__name__)
_RATE_LIMIT_RECHECK_S = 30.0


class UserStream:
    """The user-data stream of one account, on its own thread once started.

    Health (`health()`): connected, and heard from within `silence_s`: a frame it
    could read or the answer to its ping (sent after `ping_interval_s` of quiet,
    a third of `silence_s` by default), so a quiet account is not a silent stream.
    `skipped` counts the frames it could not read, by kind, and unknown events.
    """

    def __init__(
        self,
        *,
        ws_url: str,
        translator: EventTranslator,
        new_listen_key: Callable[[], str],
        keepalive: Callable[[str], None],
        resync: Callable[[int | None, int], None],
        monotonic: Callable[[], float],
        now_ms: Callable[[], int],
        keepalive_s: float = 30 * 60,
        reconnect_delay_s: float = 1.0,
        max_reconnect_delay_s: float = 60.0,
        open_timeout_s: float = 5.0,
        silence_s: float = 60.0,
        ping_interval_s: float | None = None,
    ) -> None:
        self._ws_url = ws_url.rstrip("/") + "/ws/"
        self._translator = translator
        self._new_listen_key, self._keepalive, self._resync = new_listen_key, keepalive, resync
        self._monotonic = monotonic
        self._keepalive_s, self._reconnect_delay_s = keepalive_s, reconnect_delay_s
        self.silence_s = silence_s
        self._key = ""
        self._last_keepalive = 0.0
        self._unknown_kinds: set[str] = set()
        self.resyncs = 0
        self._socket = ReconnectingWebSocket(
            name="binance-user-stream",
            url=self._url,
            on_open=self._on_open,
            on_poll=self._keep_key_alive,
            on_message=self._on_message,
            on_failure=self._on_failure,
            retry_on=(ExchangeError,),
            reconnect_delay_s=reconnect_delay_s,
            max_reconnect_delay_s=max_reconnect_delay_s,
            open_timeout_s=open_timeout_s,
            ping_interval_s=ping_interval_s if ping_interval_s is not None else silence_s / 3,
            monotonic=monotonic,
            wall_ms=now_ms,
        )

    @property
    def connected(self) -> threading.Event:
        return self._socket.connected

    @property
    def connections(self) -> int:
        """How many times a connection was made (the first is not a gap)."""
        return self._socket.connections

    @property
    def socket(self) -> ReconnectingWebSocket:
        return self._socket

    @property
    def skipped(self) -> Counter[str]:
        """Frames skipped, by kind: "not JSON", "missing field", "wrong type", "bad value", "unknown event"."""
        return self._socket.skipped

    def health(self) -> str:
        """ "" when connected and heard from within `silence_s`; else why not, for a person."""
        return self._socket.health("user-data stream", self.silence_s)

    def start(self) -> None:
        self._socket.start()

    def is_alive(self) -> bool:
        return self._socket.is_alive()

    def stop(self) -> None:
        self._socket.stop()

    def _url(self) -> str:
        self._key = self._new_listen_key()
        return self._ws_url + self._key

    def _on_open(self, reconnect: bool) -> None:
        if reconnect:
            # The gap: from the last moment the previous session heard anything to this connection's opening.
            self._resync(self._socket.previous_heard_ms, self._socket.opened_ms)
            self.resyncs += 1
        self._last_keepalive = self._monotonic()  # before `connected`: a waiter may move the clock

    def _keep_key_alive(self) -> None:
        if self._monotonic() - self._last_keepalive >= self._keepalive_s:
            self._keepalive(self._key)  # raises on -1125: a new key and a resync follow
            self._last_keepalive = self._monotonic()

    def _on_message(self, message: Any) -> bool:
        event = parse_user_event(message)  # a frame it cannot read raises: the socket counts and skips it
        if isinstance(event, UnknownEvent):
            first = event.event_type not in self._unknown_kinds
            self._unknown_kinds.add(event.event_type)
            self._socket.skip("unknown event", f"{event.event_type!r} not read", quiet=not first)
            return True
        self._socket.heard()
        if isinstance(event, ListenKeyExpired):
            return False
        self._translator.translate(event)
        return True

    def _on_failure(self, error: Exception) -> float:
        """The least to wait before the next session (the socket's backoff may say more)."""
        if isinstance(error, RateLimited):
            # Nothing may be sent until the limit or ban ends; look again at least every 30 s.
            log.warning("user stream: rate limited for %.0fs", error.retry_after_s)
            return min(max(error.retry_after_s, self._reconnect_delay_s), _RATE_LIMIT_RECHECK_S)
        # The key and secret are never in these: the URL holds only the listen key.
        log.warning("user stream: %s", type(error).__name__)
        return 0.0
