"""The service's notifications as one object: off when no URL is set, else a sender and a follower."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from actors.clock import Clock
from config.sections import NotifySettings
from service.notify.follower import Follower
from service.notify.sender import Notice, Notifier

log = logging.getLogger("quantum_trader.notify")
CLOSE_WAIT_S = 5.0  # at stop, how long queued notices may still take to send


class Notifications:
    def __init__(self, settings: NotifySettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.notifier: Notifier | None = None
        self.follower: Follower | None = None

    def open(self) -> None:
        """Check the URLs (raises `ValueError` naming a bad one by its place, never by its text)."""
        urls = [url.get_secret_value() for url in self.settings.urls]
        self.notifier = Notifier(urls, queue_size=self.settings.queue_size) if urls else None

    def start(self, engine: Engine) -> None:
        if self.notifier is None:
            return
        self.notifier.start()
        self.follower = Follower(
            engine, self.clock, self.notifier, poll_s=self.settings.poll_s, daily=self.settings.daily_summary
        )
        self.follower.start()
        log.info(
            "notifications: %d channel(s); gate, positions, protection, lease, daily summary", len(self.settings.urls)
        )

    def post(self, notice: Notice) -> None:
        if self.notifier is not None:
            self.notifier.post(notice)

    def stop(self) -> None:
        """What was committed is still told; a channel that does not answer holds the stop at most a few seconds."""
        if self.follower is not None:
            self.follower.stop()
        if self.notifier is not None:
            self.notifier.close(CLOSE_WAIT_S)
