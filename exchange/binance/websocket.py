"""One reconnecting WebSocket connection on its own thread: the shape both Binance streams share.

A session: take the URL (`url()`, which may call REST: a new listen key), connect,
let the owner catch up before anything is read (`on_open(reconnect)`: a resync or
a backfill after a gap; the socket is open first, so nothing that happens
meanwhile is lost), mark the socket `connected`, then hand every frame, decoded
from JSON, to `on_message` until the socket closes, `on_message` returns False
(the server said this connection is over) or `stop()` is called. `on_poll` runs
before every read, at least every 0.25 s (a listen key's keepalive).

A frame that cannot be read (not JSON; or `on_message` raised one of
`FRAME_ERRORS`: a missing field, a wrong type, a bad value) is logged with its
kind, counted in `skipped` and skipped: the next frame is read as usual. The
owner counts what it skips by choice (an unknown event type) with `skip()`.

Any failure of a session (connecting, a callback) is logged and handed to
`on_failure`, which returns the least the owner wants to wait (a rate limit);
the thread then waits at least the backoff, `reconnect_delay_s` doubled with
every session in a row that failed or ended unheard, up to
`max_reconnect_delay_s`, and starts the next session. A session that heard from
the server (`heard()`: the owner's good frame, or the answer to our ping) resets
the backoff. Nothing ends the thread but `stop()`.

Health: `health(label, silence_s)` is "" when the socket is connected and heard
from within `silence_s`, else why not, in words. With `ping_interval_s` the
socket pings the server when it has heard nothing for that long, so a quiet but
live connection (a user-data stream with no trading) stays heard. websockets'
own keepalive (20 s) closes a connection whose pings go unanswered, which
starts a new session.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

log = logging.getLogger(__name__)
CONNECTION_ERRORS: tuple[type[Exception], ...] = (OSError, InvalidHandshake, InvalidURI, TimeoutError)
# What reading a frame that is not what it should be raises: JSON errors are ValueErrors, Decimal's are
# ArithmeticErrors, a missing key a KeyError, a list where an object belongs a TypeError or AttributeError.
FRAME_ERRORS: tuple[type[Exception], ...] = (ValueError, ArithmeticError, LookupError, TypeError, AttributeError)
_READ_TIMEOUT_S = 0.25
_SHOWN_CHARS = 200


def _nothing(*_: object) -> None:
    return None


def frame_error_kind(error: Exception) -> str:
    """The kind of an unreadable frame, as counted in `skipped`."""
    if isinstance(error, json.JSONDecodeError):
        return "not JSON"
    if isinstance(error, LookupError):
        return "missing field"
    if isinstance(error, (TypeError, AttributeError)):
        return "wrong type"
    return "bad value"


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


class ReconnectingWebSocket:
    def __init__(
        self,
        *,
        name: str,
        url: Callable[[], str],
        on_message: Callable[[Any], bool],
        on_failure: Callable[[Exception], float],
        on_open: Callable[[bool], None] = _nothing,
        on_poll: Callable[[], None] = _nothing,
        retry_on: tuple[type[Exception], ...] = (),
        reconnect_delay_s: float = 1.0,
        max_reconnect_delay_s: float = 60.0,
        open_timeout_s: float = 5.0,
        ping_interval_s: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.name = name
        self._url, self._on_message, self._on_failure = url, on_message, on_failure
        self._on_open, self._on_poll = on_open, on_poll
        self._expected = CONNECTION_ERRORS + retry_on  # failures logged by the owner alone, without a traceback
        self.reconnect_delay_s, self.max_reconnect_delay_s = reconnect_delay_s, max_reconnect_delay_s
        self.open_timeout_s, self._ping_interval_s = open_timeout_s, ping_interval_s
        self._monotonic, self._wall_ms = monotonic, wall_ms
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._halt = threading.Event()
        self.connected = threading.Event()
        self.connections = 0  # how many times a connection was made (the first is not a gap)
        self.failures = 0  # sessions in a row that failed or ended unheard: the backoff's exponent
        self.last_delay_s = 0.0  # the wait before the latest session
        self.skipped: Counter[str] = Counter()  # frames skipped, by kind
        self._lock = threading.RLock()  # re-entered by a `wait` predicate that calls `health`
        self._changed = threading.Condition(self._lock)  # heard, skipped, connected or not
        self._ws: ClientConnection | None = None
        self._heard_in_session = False
        self._last_heard = monotonic()  # monotonic s: the last good frame or pong (or the connection's opening)
        self._last_heard_ms = wall_ms()  # the same, as the wall clock says
        self._down_since_ms = wall_ms()  # when the socket last stopped being connected (or was made)
        self.previous_heard_ms: int | None = None  # in `on_open`: when the previous session last heard anything
        self.opened_ms = 0  # in `on_open`: when this session's connection opened

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._halt.set()
        self.drop()
        if self._thread.is_alive():
            self._thread.join(10)

    def drop(self) -> None:
        """Close the current connection as a network failure would (the thread reconnects unless stopped)."""
        ws = self._ws
        if ws is not None:
            ws.close()

    # --- what the owner tells -----------------------------------------------------------------

    def heard(self) -> None:
        """The server is alive: a frame the owner could use (or a pong)."""
        with self._changed:
            self._heard_in_session = True
            self._last_heard, self._last_heard_ms = self._monotonic(), self._wall_ms()
            self._changed.notify_all()

    def skip(self, kind: str, detail: str, *, quiet: bool = False) -> None:
        """Count a frame skipped, by kind; logged as a warning unless `quiet`."""
        (log.debug if quiet else log.warning)("%s: frame skipped (%s): %s", self.name, kind, detail[:_SHOWN_CHARS])
        with self._changed:
            self.skipped[kind] += 1
            self._changed.notify_all()

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Until `predicate()` holds (True) or `timeout` seconds passed (False); it is checked again whenever the
        socket hears from the server, skips a frame, connects or disconnects. `predicate` may call `health`."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def _set_connected(self, connected: bool) -> None:
        with self._changed:
            if connected:
                self.connected.set()
            else:
                if self.connected.is_set():
                    self._down_since_ms = self._wall_ms()
                self.connected.clear()
            self._changed.notify_all()

    def health(self, label: str, silence_s: float) -> str:
        """ "" when connected and heard from within `silence_s`; else why not, for a person."""
        if not self._thread.is_alive():
            return f"{label} not running"
        if not self.connected.is_set():
            tries = f"; {self.failures} failed attempt(s) in a row" if self.failures else ""
            return f"{label} disconnected since {_utc(self._down_since_ms)} UTC{tries}"
        with self._lock:
            silent = self._monotonic() - self._last_heard
        if silent > silence_s:
            return f"{label} silent for {silent:.0f} s"
        return ""

    # --- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._halt.is_set():
            owner_wait = 0.0
            try:
                self._session()
            except Exception as e:
                owner_wait = self._failed(e)
            finally:
                self._set_connected(False)
            self.last_delay_s = max(self._backoff(), owner_wait)
            self._halt.wait(self.last_delay_s)

    def _failed(self, error: Exception) -> float:
        if not isinstance(error, self._expected):
            log.error("%s: unexpected failure; reconnecting", self.name, exc_info=error)
        try:
            return self._on_failure(error)
        except Exception:
            log.exception("%s: the failure handler failed too", self.name)
            return 0.0

    def _backoff(self) -> float:
        if self._heard_in_session:
            self.failures = 0
        else:
            self.failures += 1
        self._heard_in_session = False
        if self.failures == 0:
            return self.reconnect_delay_s
        return min(self.max_reconnect_delay_s, self.reconnect_delay_s * 2 ** (self.failures - 1))

    def _session(self) -> None:
        url = self._url()
        with connect(url, open_timeout=self.open_timeout_s, close_timeout=1) as ws:
            self._ws = ws
            try:
                with self._lock:
                    self.previous_heard_ms = self._last_heard_ms if self.connections else None
                self.opened_ms = self._wall_ms()
                self._on_open(self.connections > 0)
                with self._lock:
                    self._last_heard, self._last_heard_ms = self._monotonic(), self._wall_ms()
                self.connections += 1
                self._set_connected(True)
                self._read(ws)
            finally:
                self._ws = None

    def _read(self, ws: ClientConnection) -> None:
        pong: threading.Event | None = None
        pinged = 0.0
        while not self._halt.is_set():
            self._on_poll()
            try:
                if self._ping_interval_s is not None:
                    pong, pinged = self._ping(ws, pong, pinged, self._ping_interval_s)
                text = ws.recv(timeout=_READ_TIMEOUT_S)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            if not self._frame(text):
                return

    def _ping(
        self, ws: ClientConnection, pong: threading.Event | None, pinged: float, interval: float
    ) -> tuple[threading.Event | None, float]:
        """A pong heard counts as the server heard; ping again when nothing was heard for `interval`."""
        if pong is not None and pong.is_set():
            self.heard()
            pong = None
        now = self._monotonic()
        with self._lock:
            quiet = now - self._last_heard >= interval
        if quiet and (pong is None or now - pinged >= interval):
            return ws.ping(), now
        return pong, pinged

    def _frame(self, text: str | bytes) -> bool:
        """Hand one frame over; False when the owner says the connection is over."""
        try:
            return self._on_message(json.loads(text))
        except FRAME_ERRORS as e:
            shown = text if isinstance(text, str) else repr(text)
            self.skip(frame_error_kind(e), f"{type(e).__name__}: {e}; frame {shown}")
            return True
