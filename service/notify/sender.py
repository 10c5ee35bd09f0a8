"""The notifier: a thread of its own that sends notices through Apprise, fed by a bounded queue.

Nothing that trades ever waits on it: `post` only appends to the queue (a full queue drops its oldest notice,
and the drops are counted in the log), and a channel that fails, refuses or hangs is logged and costs only this
thread's time. Apprise is imported here and nowhere else: actors and decision logic know nothing of it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import apprise

log = logging.getLogger("quantum_trader.notify")


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    title: str
    body: str


class Notifier:
    def __init__(self, urls: Sequence[str], *, queue_size: int) -> None:
        # Apprise's own messages may quote a URL, token and all: ours say what failed without it.
        logging.getLogger("apprise").setLevel(logging.CRITICAL)
        self._apprise = apprise.Apprise()
        for url in urls:
            if not self._apprise.add(url):
                # Apprise names the URL in its own log; ours never shows it (it holds tokens).
                raise ValueError(f"notify.urls: entry {urls.index(url) + 1} is not a URL Apprise can send to")
        self._queue: deque[Notice] = deque()
        self._size = queue_size
        self._lock = threading.Condition()
        self._closing = False
        self.dropped = 0  # notices dropped because the queue was full
        self.sent = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._send_all, name="notifier", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def post(self, notice: Notice) -> None:
        """Queue a notice; never blocks. A full queue drops its oldest notice (the newest says the most)."""
        with self._lock:
            if self._closing:
                return
            if len(self._queue) >= self._size:
                self._queue.popleft()
                self.dropped += 1
                log.warning(
                    "notification queue full (%d): the oldest notice dropped, %d dropped so far",
                    self._size,
                    self.dropped,
                )
            self._queue.append(notice)
            self._lock.notify()

    def close(self, timeout_s: float) -> None:
        """Send what is queued for at most `timeout_s`, then give up on the rest (a hung channel must not hold
        the service's stop)."""
        with self._lock:
            self._closing = True
            self._lock.notify()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            with self._lock:
                left = len(self._queue)
            log.warning("notifications: %d notice(s) not sent: the channel did not answer in time", left + 1)

    def _send_all(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closing:
                    self._lock.wait()
                if not self._queue:
                    return
                notice = self._queue.popleft()
            self._send(notice)

    def _send(self, notice: Notice) -> None:
        try:
            delivered = bool(self._apprise.notify(title=notice.title, body=notice.body))
        except Exception as error:  # a channel's bug must not end the thread
            delivered = False
            log.warning("notification %r not sent: %s: %s", notice.title, type(error).__name__, error)
        if delivered:
            self.sent += 1
        else:
            self.failed += 1
            log.warning("notification %r not delivered to every channel (%d failed so far)", notice.title, self.failed)
