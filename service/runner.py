"""`quantum-trader run`: the actor system as a foreground service on wall time."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version

from actors.clock import Clock, WallClock
from actors.market_data.feeds import FileFeed, SyntheticFeed
from actors.messages import Candle
from actors.system import TradingSystem
from config import ExchangeKind, FeedKind, Settings
from persistence import records
from persistence.db import make_engine
from persistence.migrate import upgrade
from service.lock import InstanceLock

log = logging.getLogger("quantum_trader.service")
WARMUP_CANDLES = 300  # history emitted at once at start, so indicators are warm when live candles begin
EXIT_OK, EXIT_SUPERVISOR = 0, 3


class ServiceError(Exception):
    """The service cannot start as configured; the message says why."""


def package_version() -> str:
    try:
        return version("quantum-trader")
    except PackageNotFoundError:
        return "unknown"


class Runner:
    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or WallClock()
        self.stopping = threading.Event()
        self.started_at = self.clock.now_ms()
        self.prices: dict[str, str] = {}

    def request_stop(self, *_: object) -> None:
        self.stopping.set()

    def run(self) -> int:
        settings = self.settings
        if settings.exchange.kind is not ExchangeKind.PAPER or settings.feed.kind is FeedKind.BINANCE:
            raise ServiceError("Binance trading and the Binance feed are not available in this version: "
                               "use exchange.kind = \"paper\" and feed.kind = \"synthetic\" or \"file\"")
        url = settings.database.url
        with InstanceLock(url):
            engine = make_engine(url)
            upgrade(engine)
            system = TradingSystem(settings, self.clock, engine)
            system.start()
            self._announce()
            try:
                self._drive(system)
            finally:
                reason = system.fatal or "operator stop"
                log.info("stopping (%s): finishing in-flight work; protective orders stay on the exchange", reason)
                system.stop(reason)
                self._beat(engine)
                engine.dispose()
        if system.fatal:
            log.critical("stopped by the supervisor: %s", system.fatal)
            return EXIT_SUPERVISOR
        log.info("stopped cleanly")
        return EXIT_OK

    def _announce(self) -> None:
        s = self.settings
        log.warning("PAPER TRADING (no real orders) on the %s feed: %s", s.feed.kind, ", ".join(s.symbols))
        log.info("database %s; profile %s; orchestrator preset %s (%s)", s.database.url, s.risk.profile,
                 s.orchestrator.preset, s.orchestrator.flags.mode)

    def _drive(self, system: TradingSystem) -> None:
        engine = system.ctx.engine
        cycle_ms = int(self.settings.orchestrator.cycle_seconds * 1000)
        last_cycle = self.clock.now_ms()
        for batch in self._batches():
            at = batch[0].close_time
            while not self.stopping.is_set() and (wait_ms := at - self.clock.now_ms()) > 0:
                self.stopping.wait(min(wait_ms, cycle_ms) / 1000)
                if self.clock.now_ms() - last_cycle >= cycle_ms and at - self.clock.now_ms() > 0:
                    system.tick(self.clock.now_ms())  # the policy re-runs at least every cycle
                    last_cycle = self.clock.now_ms()
                    self._after_cycle(system, engine)
            if self.stopping.is_set() or system.stop_requested.is_set():
                return
            system.step(at, batch)
            last_cycle = self.clock.now_ms()
            for candle in batch:
                self.prices[candle.symbol] = repr(candle.close)
            self._after_cycle(system, engine)
            if system.stop_requested.is_set():
                return

    def _after_cycle(self, system: TradingSystem, engine: object) -> None:
        self._beat(system.ctx.engine)
        now = self.clock.now_ms()
        if now - getattr(self, "_checkpointed", 0) >= 10_000:
            system.checkpoint()
            self._checkpointed = now

    def _beat(self, engine) -> None:  # type: ignore[no-untyped-def]
        with engine.begin() as connection:
            records.beat(connection, pid=os.getpid(), started_at=self.started_at, at=self.clock.now_ms(),
                         version=package_version(), prices=self.prices)

    def _batches(self) -> Iterator[tuple[Candle, ...]]:
        feed = self.settings.feed
        interval = max(1, round(1000 / feed.synthetic_speed))
        if feed.kind is FeedKind.FILE:
            yield from self._paced(FileFeed(list(feed.files)).batches(), interval)
            return
        start = self.clock.now_ms() - WARMUP_CANDLES * interval
        yield from SyntheticFeed(self.settings.symbols, seed=feed.seed, interval_ms=interval, start_ms=start).batches()

    def _paced(self, batches: Iterator[tuple[Candle, ...]], interval: int) -> Iterator[tuple[Candle, ...]]:
        """Historical candles, re-timed to arrive one step per interval from now (after the warm-up)."""
        start = self.clock.now_ms() - WARMUP_CANDLES * interval
        for index, batch in enumerate(batches):
            shift = start + index * interval - batch[0].open_time
            yield tuple(Candle(symbol=c.symbol, open_time=c.open_time + shift, open=c.open, high=c.high, low=c.low,
                               close=c.close, volume=c.volume, interval_ms=interval) for c in batch)


def install_signal_handlers(runner: Runner) -> None:
    signal.signal(signal.SIGINT, runner.request_stop)
    signal.signal(signal.SIGTERM, runner.request_stop)
