"""Replay: the live actors, on virtual time, over historical candles, as fast as they go.

The same actors and code paths as `run` (market data, orchestrator, signals, risk, exits, execution, the paper
exchange, persistence); only the clock is virtual, the feed is files, the actors take turns on one thread
(actors/runtime.py) and the strategies run without a per-candle time budget (virtual time waits for them, and a
budget of wall-clock time would make two replays of the same candles differ with the machine's load). Each run writes
its own database: a SQLite file in the output directory, inspectable with `--db`, or a database given by URL (a
fresh PostgreSQL schema, say) that holds no other run.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from actors.clock import VirtualClock
from actors.market_data.feeds import FileFeed
from actors.runtime import InlineRuntime, Runtime
from actors.signals.loading import LoadedStrategy, effective_params, load_strategies
from actors.system import TradingSystem
from config import ExchangeKind, FeedKind, Settings
from persistence.db import DatabaseUnavailable, make_engine, sqlite_url
from persistence.migrate import upgrade
from persistence.tables import TRANSITIONS

Progress = Callable[[int, int], None]  # (candles done so far, candles in all)
STEP_GC_YOUNG = 20_000  # objects allocated and not yet freed between two collections of the youngest generation


@dataclass(frozen=True, slots=True)
class ReplayRun:
    label: str
    db_url: str
    settings: Settings
    candles: int
    steps: int
    bad_rows: dict[str, dict[str, int]]
    unparseable: int
    elapsed_s: float
    files: tuple[tuple[str, str, int, int], ...] = field(default=())  # (path, symbol, rows, unparseable rows)


def replay_settings(settings: Settings, symbols: Sequence[str], db_url: str, *, orchestrator: bool = True) -> Settings:
    """The settings a replay runs on: the files' symbols, its own database, file feed, no inbox, no strategy time
    budget, and always the paper exchange (a replay never sends an order anywhere)."""
    flags = settings.orchestrator.flags.model_copy(
        update={"enable_orchestrator": orchestrator and settings.orchestrator.flags.enable_orchestrator}
    )
    return settings.model_copy(
        update={
            "symbols": tuple(symbols),
            "database": settings.database.model_copy(update={"url": db_url}),
            "feed": settings.feed.model_copy(update={"kind": FeedKind.FILE}),
            "signals": settings.signals.model_copy(update={"inbox": None, "strategy_budget_ms": 0.0}),
            "exchange": settings.exchange.model_copy(update={"kind": ExchangeKind.PAPER}),
            "orchestrator": settings.orchestrator.model_copy(update={"flags": flags}),
        }
    )


def with_strategies(settings: Settings, loaded: Sequence[LoadedStrategy]) -> Settings:
    """The settings running exactly `loaded`, in that order, with their effective parameters."""
    signals = settings.signals.model_copy(
        update={
            "builtin": False,
            "strategies": tuple(item.spec for item in loaded),
            "params": {item.name: effective_params(item) for item in loaded},
        }
    )
    return settings.model_copy(update={"signals": signals})


def run_replay(
    files: Sequence[Path],
    *,
    settings: Settings,
    out_dir: Path,
    label: str = "replay",
    symbols: Sequence[str | None] | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    orchestrator: bool = True,
    progress: Progress | None = None,
    db_url: str | None = None,
    strategies: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    runtime: Runtime | None = None,
) -> ReplayRun:
    """Replay `files`; the run's database is `<label>.db` in `out_dir`, or the one at `db_url`, which must hold
    no run yet (raises DatabaseUnavailable otherwise). `strategies`: the specs to run instead of the configured
    ones; `params`: strategy name -> parameters over the settings' (a strategy that cannot run raises
    StrategyError before anything is written). `runtime`: the actors' runtime, one thread by default (a test runs
    the same replay on pykka threads)."""
    feed = FileFeed(list(files), symbols=symbols, start_ms=start_ms, end_ms=end_ms)
    run_settings = replay_settings(settings, feed.symbols, "sqlite://", orchestrator=orchestrator)
    loaded = load_strategies(run_settings, strategies, params)
    out_dir.mkdir(parents=True, exist_ok=True)
    if db_url is None:
        for stale in out_dir.glob(f"{label}.db*"):
            stale.unlink()  # a replay's database holds that replay and nothing else
        db_url = sqlite_url(out_dir / f"{label}.db")
    run_settings = with_strategies(replay_settings(settings, feed.symbols, db_url, orchestrator=orchestrator), loaded)
    # A replay's database is rebuilt by running the replay again: durable commits buy nothing here.
    engine = make_engine(run_settings.database.url, synchronous="OFF")
    try:
        upgrade(engine)
        _check_unused(engine, db_url)
    except BaseException:
        engine.dispose()
        raise
    clock = VirtualClock(feed.earliest or 0)
    system = TradingSystem(run_settings, clock, engine, runtime=runtime or InlineRuntime())
    started = time.perf_counter()
    system.start()
    candles = steps = 0
    total = sum(len(f) for f in feed.files)
    # What exists by now (modules, settings, the actors' state) lives as long as the run: kept out of the
    # collector's sight, a full collection walks only what the steps made. And the steps make many short-lived
    # objects and few that last: a collection every STEP_GC_YOUNG of them, not every 700, finds the same cycles.
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(STEP_GC_YOUNG, *thresholds[1:])
    batches = feed.batches()
    try:
        for batch in batches:
            at = max(c.close_time for c in batch)
            clock.advance_to(at)
            system.step(at, batch, cleaned=True)  # FileFeed cleans the rows and counts what it finds (bad_rows)
            candles += len(batch)
            steps += 1
            if progress is not None:
                progress(candles, total)
            if system.stop_requested.is_set():
                for _ in batches:
                    pass  # the rows not replayed are still read, for the report's count of bad rows
                break
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        system.stop("replay finished")
        engine.dispose()
    elapsed = time.perf_counter() - started
    return ReplayRun(
        label=label,
        db_url=db_url,
        settings=run_settings,
        candles=candles,
        steps=steps,
        bad_rows={s: c.as_dict() for s, c in sorted(feed.counters.items())},
        unparseable=feed.unparseable,
        elapsed_s=elapsed,
        files=tuple(
            (str(path), f.symbol, len(f) + f.unparseable, f.unparseable)
            for path, f in zip(files, feed.files, strict=True)
        ),
    )


def _check_unused(engine: Engine, db_url: str) -> None:
    """A replay's report reads the whole database: one that holds another run would mix the two."""
    with engine.connect() as connection:
        recorded = connection.execute(select(func.count()).select_from(TRANSITIONS)).scalar_one()
    if recorded:
        raise DatabaseUnavailable(
            f"{make_url(db_url).render_as_string(hide_password=True)}: holds {recorded} transition(s) of another "
            "run; a replay needs a database of its own (a new schema on PostgreSQL)"
        )
