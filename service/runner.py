"""`quantum-trader run`: the actor system as a foreground service on wall time."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from actors.clock import Clock, WallClock
from actors.market_data.feeds import FileFeed, SyntheticFeed
from actors.messages import Candle
from actors.system import TradingSystem
from config import FeedKind, Settings
from config.redaction import redact_url
from exchange.binance.endpoints import binance_endpoints
from exchange.binance.market_stream import BinanceKlineFeed, FeedError
from exchange.factory import block_store, make_exchange
from exchange.port import ExchangeError, ExchangeEvent
from persistence import records
from persistence.db import DatabaseUnavailable, check_sqlite_directory, make_engine
from persistence.migrate import current_revision, head_revision, upgrade
from service.http.process import serving
from service.inspection import iso
from service.lease import AccountLease, lease_for, refuse_if_traded_here
from service.live_guard import ServiceError, check_live_guard, describe_venue
from service.lock import AlreadyRunning, InstanceLock
from service.notify.channel import Notifications
from service.notify.notices import lease_lost, lease_taken
from service.probe import Probe, TimedPort
from service.summary import SummaryLine
from service.terminal import describe_error

log = logging.getLogger("quantum_trader.service")
WARMUP_CANDLES = 300  # history emitted at once at start, so indicators are warm when live candles begin


def warmup_candles(settings: Settings) -> int:
    """The warm-up's length: enough for the indicators and for a full correlation lookback of returns."""
    return max(WARMUP_CANDLES, settings.risk.correlation_lookback + 1)


EXIT_OK, EXIT_ERROR, EXIT_SUPERVISOR, EXIT_FENCED = 0, 1, 3, 4


def package_version() -> str:
    try:
        return version("quantum-trader")
    except PackageNotFoundError:
        return "unknown"


class Runner:
    def __init__(
        self, settings: Settings, *, clock: Clock | None = None, live: bool = False, standby: bool = False
    ) -> None:
        self.settings = settings
        self.live = live
        self.standby = standby  # wait for the account's lease instead of refusing to start while it is held
        self.lost = ""  # why the account's lease was lost, once it was
        self.first_step_done = False
        self.clock = clock or WallClock()
        self.stopping = threading.Event()
        self.started_at = self.clock.now_ms()
        self.prices: dict[str, str] = {}
        self.feed: BinanceKlineFeed | None = None  # the Binance feed, once started: its mark prices and book tickers
        self.doing = "starting"  # what the runner's thread is doing, for the line that says what failed
        self.notifications = Notifications(settings.notify, self.clock)
        self.summary: SummaryLine | None = None
        self.probe = Probe()  # step and tick-to-order timings and the streams' health, for /metrics
        self.untaken: tuple[ExchangeEvent, ...] = ()  # the exchange's events the last step left waiting (`_told`)

    def request_stop(self, *_: object) -> None:
        self.stopping.set()

    def run(self) -> int:
        settings = self.settings
        check_live_guard(settings, live=self.live)
        try:
            self.notifications.open()
        except ValueError as error:
            raise ServiceError(str(error)) from None
        log.warning("%s on the %s feed: %s", describe_venue(settings), settings.feed.kind, ", ".join(settings.symbols))
        self._announce()
        try:
            return self._serve()
        except (ServiceError, AlreadyRunning, DatabaseUnavailable):
            raise  # refused before anything was traded: one message, exit code 2
        except Exception as error:  # the top of the runner's thread: one clear line, never a traceback
            self._report(error)
            return EXIT_ERROR

    def _serve(self) -> int:
        """Open and migrate the database, take the account's lease (or wait for it, as a standby), then trade."""
        settings = self.settings
        if not self.standby:
            refuse_if_traded_here(settings)
        self.doing = "opening the database"
        check_sqlite_directory(settings.database.url)
        engine = make_engine(settings.database.url)
        try:
            migrate(engine, settings.database.url)
            lease = lease_for(settings, engine, self.clock)
            self.doing = "taking the account's lease"
            taken = lease.take(standby=self.standby, stopping=self.stopping)
            if taken is None:
                log.info("stopped while waiting as a standby: nothing was traded")
                return EXIT_OK
            lease.on_lost = self._lost
            self.notifications.start(engine)
            self.notifications.post(lease_taken(f"{lease.key}, token {taken.token}"))
            with lease, serving(settings, self.probe):
                return self._trade(engine, lease)
        finally:
            self.notifications.stop()
            engine.dispose()

    def _lost(self, why: str) -> None:
        self.lost = why
        self.notifications.post(lease_lost(why))
        self.stopping.set()

    def _trade(self, engine: Engine, lease: AccountLease) -> int:
        settings = self.settings
        try:
            exchange = make_exchange(settings, engine, live=self.live)
        except ExchangeError as error:
            raise ServiceError(f"cannot start the exchange: {error}") from None
        guarded = TimedPort(exchange, lease.ensure_held, self.probe)  # nothing is sent once the lease may be lost
        self.probe.health = lambda: {"market": self._feed_health(), "exchange": guarded.health()}
        system = TradingSystem(settings, self.clock, engine, exchange=guarded, durable_steps=True)
        system.ctx.feed_health = self._feed_health  # the market stream's watchdog pauses trading too
        system.ctx.book_spreads = self._book_spreads  # the book tickers' spreads, for an exchange with a real book
        failed = False
        try:
            self.doing = "starting the actors"
            system.start()
            log.info("running: every actor started, open positions reconciled with the exchange")
            self.summary = SummaryLine(engine, self.clock, settings.log.summary_every_s)
            self._drive(system)
        except FeedError as error:
            raise ServiceError(f"market feed: {error}") from None
        except Exception as error:
            if not self.lost:
                self._report(error)  # said at once: stopping may wait on what failed
                failed = True
        finally:
            self._stop(system, engine, self._stop_reason(system, failed))
        if self.lost or lease.lost:
            log.critical(
                "stopped: the lease on this account was lost (%s); %d write(s) and %d order(s) refused",
                self.lost or lease.lost,
                lease.refused_writes,
                lease.refused_sends,
            )
            return EXIT_FENCED
        if failed:
            log.critical("stopped after the error above")
            return EXIT_ERROR
        if system.fatal:
            log.critical("stopped by the supervisor: %s", system.fatal)
            return EXIT_SUPERVISOR
        log.info("stopped cleanly")
        return EXIT_OK

    def _stop_reason(self, system: TradingSystem, failed: bool) -> str:
        if self.lost:
            return "the lease was lost"
        return "an error" if failed else system.fatal or "operator stop"

    def _stop(self, system: TradingSystem, engine: Engine, reason: str) -> None:
        """Graceful, and never raising: a failure here is logged and the rest of the stop still runs."""
        log.info("stopping (%s): finishing in-flight work; protective orders stay on the exchange", reason)
        try:
            system.stop(reason)
        except Exception as error:
            log.error("stopping the actors failed: %s", describe_error(error, self.settings.database.url))
            log.debug("the error that stopped the stop", exc_info=error)
        if self.lost:
            return  # nothing more is written: the account has another owner
        try:
            self._beat(engine)
        except Exception as error:
            log.error("the last heartbeat was not written: %s", describe_error(error, self.settings.database.url))

    def _report(self, error: Exception) -> None:
        """What failed, that the service stops, and what to do: one line (the traceback only at --debug)."""
        log.debug("the error that stops the service", exc_info=error)
        hint = (
            "check that the database is reachable and that no other program holds a lock on it"
            if isinstance(error, DBAPIError)
            else "fix the cause"
        )
        log.critical(
            "the service stops: %s failed: %s. It stops gracefully (protective orders stay on the exchange); "
            "%s, then start it again (it reconciles at start; `run --debug` logs the traceback)",
            self.doing,
            describe_error(error, self.settings.database.url),
            hint,
        )

    def _announce(self) -> None:
        s = self.settings
        log.info(
            "database %s; profile %s; orchestrator preset %s (%s)",
            redact_url(s.database.url),
            s.risk.profile,
            s.orchestrator.preset,
            s.orchestrator.flags.mode,
        )

    def _drive(self, system: TradingSystem) -> None:
        self.doing = "driving the actors"
        cycle_ms = int(self.settings.orchestrator.cycle_seconds * 1000)
        last_cycle = self.clock.now_ms()
        batches = self._batches(system.ctx.engine)
        try:
            self._drive_batches(system, batches, cycle_ms, last_cycle)
        finally:
            batches.close()  # a live feed closes its stream

    def _drive_batches(
        self, system: TradingSystem, batches: Iterator[tuple[Candle, ...]], cycle_ms: int, last_cycle: int
    ) -> None:
        for batch in batches:
            if not batch:  # a live feed with nothing closed yet: the policy timer and a stop request still run
                if self.stopping.is_set() or system.stop_requested.is_set():
                    return
                if self._told(system) or self.clock.now_ms() - last_cycle >= cycle_ms:
                    last_cycle = self._tick(system)
                continue
            at = batch[0].close_time
            while not self.stopping.is_set() and (wait_ms := at - self.clock.now_ms()) > 0:
                self.stopping.wait(min(wait_ms, cycle_ms) / 1000)
                if self.clock.now_ms() - last_cycle >= cycle_ms and at - self.clock.now_ms() > 0:
                    last_cycle = self._tick(system)  # the policy re-runs at least every cycle
            if self.stopping.is_set() or system.stop_requested.is_set():
                return
            with self.probe.step(), self._taking(system):
                system.step(at, batch)
            if not self.first_step_done:
                self.first_step_done = True
                log.info("first step done: trading (candles closed at %s)", iso(at))
            last_cycle = self.clock.now_ms()
            for candle in batch:
                self.prices[candle.symbol] = repr(candle.close)
            if self.summary is not None:
                self.summary.count(len(batch))
            self._after_cycle(system)
            if system.stop_requested.is_set():
                return

    def _told(self, system: TradingSystem) -> bool:
        """The exchange told of something a step has not seen (a fill, an order's end): a step takes it now, so that
        a filled entry gets its stop at once (the protection invariant), not at the next cycle. Events a step left
        waiting (execution takes none until it has reconciled) do not ask for another until more come."""
        return any(all(event is not old for old in self.untaken) for event in system.ctx.exchange.pending_events())

    @contextmanager
    def _taking(self, system: TradingSystem) -> Iterator[None]:
        """Around a step: note which of the events waiting at its start it left waiting."""
        exchange = system.ctx.exchange
        before = exchange.pending_events()
        yield
        self.untaken = tuple(event for event in exchange.pending_events() if any(event is old for old in before))

    def _tick(self, system: TradingSystem) -> int:
        """A step without candles; when it ended."""
        with self._taking(system):
            system.tick(self.clock.now_ms())
        ended = self.clock.now_ms()
        self._after_cycle(system)
        return ended

    def _after_cycle(self, system: TradingSystem) -> None:
        self.doing = "handing the operator's commands to the orchestrator"
        system.operator_commands()
        self.doing = "writing the heartbeat"
        self._beat(system.ctx.engine)
        if self.summary is not None and self.summary.due():
            self.doing = "writing the summary line"
            self.summary.write()
        self.doing = "driving the actors"

    def _beat(self, engine: Engine) -> None:
        with engine.begin() as connection:
            records.beat(
                connection,
                pid=os.getpid(),
                started_at=self.started_at,
                at=self.clock.now_ms(),
                version=package_version(),
                prices=self._heartbeat_prices(),
            )

    def _feed_health(self) -> str:
        return self.feed.health() if self.feed is not None else ""

    def _book_spreads(self) -> dict[str, float]:
        return self.feed.spreads() if self.feed is not None else {}

    def _heartbeat_prices(self) -> dict[str, Any]:
        """The last close of each symbol, as every reader expects, and with the Binance feed its mark prices
        under "marks" (no symbol is lower case, so the key never shadows one; readers look symbols up by name)."""
        marks = self.feed.marks() if self.feed is not None else {}
        if not marks:
            return dict(self.prices)  # exactly what was written before marks existed
        return {**self.prices, "marks": {symbol: str(mark) for symbol, mark in marks.items()}}

    def _batches(self, engine: Engine) -> Generator[tuple[Candle, ...], None, None]:
        feed = self.settings.feed
        if feed.kind is FeedKind.BINANCE:
            base_url, ws_url = binance_endpoints(self.settings.exchange)
            load_block, save_block = block_store(engine, base_url)  # the IP's ban, shared with the account's port
            self.feed = BinanceKlineFeed(
                self.settings.symbols,
                base_url=base_url,
                ws_url=ws_url,
                interval=feed.interval,
                warmup=warmup_candles(self.settings),
                load_block=load_block,
                save_block=save_block,
            )
            yield from self.feed.batches()
            return
        interval = max(1, round(1000 / feed.synthetic_speed))
        if feed.kind is FeedKind.FILE:
            yield from self._paced(FileFeed(list(feed.files)).batches(), interval)
            return
        start = self.clock.now_ms() - warmup_candles(self.settings) * interval
        yield from SyntheticFeed(self.settings.symbols, seed=feed.seed, interval_ms=interval, start_ms=start).batches()

    def _paced(self, batches: Iterator[tuple[Candle, ...]], interval: int) -> Iterator[tuple[Candle, ...]]:
        """Historical candles, re-timed to arrive one step per interval from now (after the warm-up)."""
        start = self.clock.now_ms() - warmup_candles(self.settings) * interval
        for index, batch in enumerate(batches):
            shift = start + index * interval - batch[0].open_time
            yield tuple(
                Candle(
                    symbol=c.symbol,
                    open_time=c.open_time + shift,
                    open=c.open,
                    high=c.high,
                    low=c.low,
                    close=c.close,
                    volume=c.volume,
                    interval_ms=interval,
                )
                for c in batch
            )


def migrate(engine: Engine, url: str) -> None:
    """Bring the schema to this version's head, under the instance lock: never under a running instance (a standby
    starting beside its owner finds the schema at head already)."""
    if current_revision(engine) == head_revision():
        return
    try:
        with InstanceLock(url):
            upgrade(engine)
    except AlreadyRunning as error:
        raise ServiceError(
            f"the database's schema is at revision {current_revision(engine)}, this version needs "
            f"{head_revision()}, and {error}: stop it first"
        ) from None


def install_signal_handlers(runner: Runner) -> None:
    signal.signal(signal.SIGINT, runner.request_stop)
    signal.signal(signal.SIGTERM, runner.request_stop)
