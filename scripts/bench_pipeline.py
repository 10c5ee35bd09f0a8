"""Pipeline benchmark: tick-to-order latency through the real actors, and the RSS of a 10-symbol service.

Each step hands one closed candle per symbol (10 symbols) to the market-data actor;
an inbox signal for one symbol per step makes an entry order. Latency runs from
handing the batch to the market-data actor to the paper exchange accepting that
entry order, through market data -> execution -> exits -> signals -> orchestrator
-> risk -> execution, with the intent durably committed (synchronous=FULL) before
it is sent. Positions are closed by their stop a few steps later, so each symbol
trades again and the account keeps its 10 symbols busy.

The last line printed is one JSON object: {"tick_to_order_p50_ms", "tick_to_order_p99_ms", "commit_p50_ms",
"tick_to_order_over_commit", "p99_over_commit", "peak_rss_mb", ...}. `commit_p50_ms` is one bare durable commit of
a transition row on the same disk in the same run, the least a step that commits once before its order can take.
`hops_p50_ms` is the other floor: a message passed along the step's seven hops (actors/pipeline.py, the market-data
actor first) through pykka actors that do nothing else, until the last one has it (where the entry order leaves).
With --with-http, the runs without and with the HTTP server polled take turns (--rounds of each) and the line adds
"with_http_p50_ms", "with_http_p99_ms" and their ratios to the runs without.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import queue
import resource
import socket
import sys
import tempfile
import time
import urllib.request
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import numpy as np
import pykka

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from actors.clock import VirtualClock  # noqa: E402
from actors.messages import Candle  # noqa: E402
from actors.pipeline import ROUTES  # noqa: E402
from actors.system import TradingSystem  # noqa: E402
from config import ExitMode, Settings  # noqa: E402
from exchange.paper.exchange import PaperExchange  # noqa: E402
from exchange.port import OrderRequest, OrderState  # noqa: E402
from persistence.db import make_engine  # noqa: E402
from persistence.migrate import upgrade  # noqa: E402
from persistence.store import INSERT_TRANSITION, transition_row  # noqa: E402
from service.http.process import START_WITHIN_S, serving  # noqa: E402
from service.probe import Probe  # noqa: E402
from state_machines.table import TransitionRecord  # noqa: E402

SYMBOLS = (
    "BTCUSDT",
    "ETHUSDT",
    "SOLUSDT",
    "BNBUSDT",
    "XRPUSDT",
    "ADAUSDT",
    "DOGEUSDT",
    "LTCUSDT",
    "DOTUSDT",
    "LINKUSDT",
)
MINUTE = 60_000


class TimedExchange(PaperExchange):
    """The paper exchange, noting when each entry order is accepted."""

    accepted: list[float]

    def place_order(self, request: OrderRequest) -> OrderState:
        state = super().place_order(request)
        if "-e-" in request.client_order_id:
            self.accepted.append(time.perf_counter())
        return state


def settings_for(db: Path, inbox: Path) -> Settings:
    return Settings.model_validate(
        dict(
            symbols=SYMBOLS,
            database={"url": f"sqlite:///{db}"},
            http={"port": free_port()},
            signals={"builtin": False, "inbox": str(inbox)},
            risk={"profile": "AGGRESSIVE"},
            # Wide stops (10 ATR in every mode), so no position is stopped out while the benchmark measures.
            exit_modes={str(mode): {"atr_multiplier_sl": 10} for mode in ExitMode},
            profiles={"AGGRESSIVE": {"max_total_exposure_pct": 10.0, "max_symbol_exposure_pct": 0.9}},
            # Every step may trade: the gate is not driven and losing symbols are not filtered out.
            orchestrator={
                "preset": "full_live",
                "flags": {"use_for_trading_gate": False, "use_for_signal_filter": False},
            },
        )
    )


def measure(args: argparse.Namespace, *, with_http: bool) -> tuple[list[float], int]:
    """Tick-to-order latencies (ms) of one run of the pipeline, and its steps; with_http: the HTTP server is up on
    the benchmark's database, as `run` serves it, and polled with the dashboard's requests at --http-rate a second
    meanwhile."""
    rng = np.random.default_rng(5)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = str(Path(args.keep) / ("with-http" if with_http else "")) if args.keep else tmp
        Path(tmp).mkdir(parents=True, exist_ok=True)
        db, inbox = Path(tmp) / "bench.db", Path(tmp) / "inbox.jsonl"
        inbox.touch()
        settings = settings_for(db, inbox)
        engine = make_engine(settings.database.url, synchronous=args.synchronous)
        upgrade(engine)
        exchange = TimedExchange.from_settings(settings.exchange.paper)
        assert isinstance(exchange, TimedExchange)
        exchange.accepted = []
        clock = VirtualClock(1_700_000_000_000)
        system = TradingSystem(settings, clock, engine, exchange=exchange)
        system.start()
        probe = Probe()  # what the service's runner times its steps with, and answers the HTTP process from
        poller = Poller(settings, probe, args.http_rate) if with_http else None
        prices = {s: 100.0 * (i + 1) for i, s in enumerate(SYMBOLS)}
        latencies: list[float] = []
        open_time, step, signal_number = clock.now_ms(), 0, 0
        drop: set[str] = set()
        with inbox.open("a") as writer:
            while len(latencies) < args.orders:
                if step > args.warmup + 4 * args.orders:
                    raise SystemExit(
                        f"only {len(latencies)} orders after {step} steps: signals are not turning into orders"
                    )
                trading = step >= args.warmup
                target = SYMBOLS[step % len(SYMBOLS)]
                if trading:
                    signal_number += 1
                    writer.write(
                        json.dumps({"id": f"b-{signal_number}", "symbol": target, "side": "LONG", "confidence": 0.9})
                        + "\n"
                    )
                    writer.flush()
                    # Five steps on, this symbol's position hits its stop or its take-profit (in turn, so the
                    # account neither dies nor balloons), freeing the symbol for its next turn.
                    drop.add(SYMBOLS[(step - 5) % len(SYMBOLS)]) if step >= args.warmup + 5 else None
                candles = []
                for symbol in SYMBOLS:
                    price = prices[symbol]
                    jump = -0.06 if (step // len(SYMBOLS)) % 2 else 0.06
                    change = jump if symbol in drop else float(rng.normal(0, 0.0004))
                    close = price * (1 + change)
                    candles.append(
                        Candle(
                            symbol=symbol,
                            open_time=open_time,
                            open=price,
                            high=max(price, close) * 1.0002,
                            low=min(price, close) * 0.9998,
                            close=close,
                            volume=1.0,
                        )
                    )
                    prices[symbol] = close if symbol not in drop else price  # recover next step
                drop.clear()
                at = open_time + MINUTE
                clock.advance_to(at)
                before = len(exchange.accepted)
                started = time.perf_counter()
                with probe.step():
                    system.step(at, tuple(candles))
                latencies.extend((t - started) * 1000 for t in exchange.accepted[before:])
                open_time, step = at, step + 1
        if poller is not None:
            poller.stop()
        system.stop("benchmark done")
    return latencies, step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=200, help="calm steps before the first signal")
    parser.add_argument(
        "--synchronous", default="FULL", help="SQLite synchronous setting (FULL is what the service runs with)"
    )
    parser.add_argument("--keep", help="a directory to keep the database in (for a look afterwards)")
    parser.add_argument(
        "--with-http", action="store_true", help="run again with the HTTP server up and polled, and compare"
    )
    parser.add_argument("--http-rate", type=float, default=20.0, help="dashboard requests a second with --with-http")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="--with-http: runs without and with the HTTP server, in turn (each of --orders), pooled per side",
    )
    args = parser.parse_args()
    latencies, step = measure(args, with_http=False)
    orders = len(latencies)
    commit = bare_commit_p50_ms(args.synchronous)
    hops = hops_p50_ms()
    http = compare_with_http(args, latencies) if args.with_http else {}
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    p50, p99 = float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99))
    print(f"{orders:,} entry orders over {step:,} steps of {len(SYMBOLS)} symbols")
    print(f"tick-to-order: p50 {p50:.3f} ms, p99 {p99:.3f} ms (synchronous={args.synchronous})")
    print(f"one bare durable commit of a transition row, same disk: p50 {commit:.3f} ms")
    print(f"tick-to-order over it: p50 {p50 / commit:.2f}x (target at most 2), p99 {p99 / commit:.2f}x (at most 4)")
    print(f"the step's {HOPS} hops through pykka actors that do nothing else: p50 {hops:.3f} ms")
    print(f"peak RSS: {rss_mb:.0f} MB")
    print(
        json.dumps(
            {
                "tick_to_order_p50_ms": round(p50, 3),
                "tick_to_order_p99_ms": round(p99, 3),
                "commit_p50_ms": round(commit, 3),
                "tick_to_order_over_commit": round(p50 / commit, 2),
                "p99_over_commit": round(p99 / commit, 2),
                "hops_p50_ms": round(hops, 3),
                **http,
                "peak_rss_mb": round(rss_mb, 1),
                "orders": orders,
                "symbols": len(SYMBOLS),
            }
        )
    )


def bare_commit_p50_ms(synchronous: str, commits: int = 1_000) -> float:
    """The median time of one durable commit of one transition row, alone, on the disk the pipeline's database was
    on (the temporary directory), with the service's settings: what a step's one commit costs at least."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'commit.db'}", synchronous=synchronous)
        upgrade(engine)
        took = []
        with engine.connect() as connection:
            for n in range(commits):
                record = TransitionRecord(
                    machine="position", entity_id="p-bench", seq=n + 1, source="open", dest="open",
                    trigger="change_exit_mode", reason="bench", at=n,
                )  # fmt: skip
                row = transition_row(record)
                started = time.perf_counter()
                with connection.begin():
                    connection.execute(INSERT_TRANSITION, row)
                took.append((time.perf_counter() - started) * 1000)
        engine.dispose()
    return float(np.percentile(took, 50))


# The driver's hand-in to the market-data actor, then one hop per route of actors/pipeline.py.
HOPS = 1 + len(ROUTES)


class Hop(pykka.ThreadingActor):
    """Passes what it is told to the next actor; the last one of the line notes when the message reached it."""

    def __init__(self, after: pykka.ActorRef[Hop] | None, reached: queue.SimpleQueue[float]) -> None:
        super().__init__()
        self.after, self.reached = after, reached

    def on_receive(self, message: object) -> None:
        if self.after is None:
            self.reached.put(time.perf_counter())
        else:
            self.after.tell(message)


def hops_p50_ms(passes: int = 3_000) -> float:
    """The median time from the driver's tell to the last of `HOPS` pykka actors in a line receiving the message,
    each doing nothing but pass it on: what a step's hand-offs cost before any actor does its part (the entry
    order leaves from the last one's handler)."""
    reached: queue.SimpleQueue[float] = queue.SimpleQueue()
    line: list[pykka.ActorRef[Hop]] = []
    for _ in range(HOPS):
        line.append(Hop.start(line[-1] if line else None, reached))
    took = []
    try:
        for _ in range(passes):
            started = time.perf_counter()
            line[-1].tell(None)
            took.append((reached.get(timeout=10) - started) * 1000)
    finally:
        for ref in line:
            ref.stop()
    return float(np.percentile(took, 50))


class Poller:
    """The service's HTTP process on the benchmark's database (as `run` starts it: its own process, sent this one's
    figures), and a client process asking it what the dashboard asks at `rate` requests a second. The client is a
    process of its own, as a browser or a scraper is: a client thread here would compete for this process's GIL
    with the actors, which no real dashboard does."""

    def __init__(self, settings: Settings, probe: Probe, rate: float) -> None:
        self.serving = serving(settings, probe)
        process = self.serving.__enter__()
        if process is None or not process.served.wait(START_WITHIN_S):
            raise SystemExit("the HTTP process does not serve: see the warning above")
        context = multiprocessing.get_context("spawn")
        self.stopping, self.answered, self.failed = context.Event(), context.Value("i", 0), context.Value("i", 0)
        base = f"http://127.0.0.1:{settings.http.port}"
        self.client = context.Process(
            target=poll, args=(base, rate, self.stopping, self.answered, self.failed), daemon=True
        )
        self.client.start()
        self.started = time.perf_counter()

    def stop(self) -> None:
        self.stopping.set()
        took = time.perf_counter() - self.started
        self.client.join()
        self.serving.__exit__(None, None, None)
        answered, failed = self.answered.value, self.failed.value
        print(
            f"HTTP server answered {answered} requests in {took:.1f} s meanwhile ({answered / took:.1f} a second)"
            + (f"; {failed} failed (the first is above)" if failed else "")
        )


def poll(base: str, rate: float, stopping: EventType, answered: Synchronized[int], failed: Synchronized[int]) -> None:
    """The client process: the dashboard's requests, the n-th sent n/rate seconds after the first, until
    `stopping`. A few at once, as a browser sends them, so a slow answer does not lower the rate."""
    paths = ["/api/status", "/api/equity?limit=500", "/api/decisions/counts?since=24h", "/api/orders?limit=15",
             "/api/transitions?limit=100", "/metrics"]  # fmt: skip

    def get(path: str) -> None:
        try:
            with urllib.request.urlopen(base + path, timeout=10) as response:
                response.read()
        except OSError as error:  # counted and said, not raised: the run goes on and says how many failed
            with failed.get_lock():
                failed.value += 1
                if failed.value == 1:
                    print(f"{path}: {error!r}", file=sys.stderr)
            return
        with answered.get_lock():
            answered.value += 1

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        sent = [pool.submit(get, paths[0])]
        while not stopping.wait(max(0.0, started + len(sent) / rate - time.perf_counter())):
            sent.append(pool.submit(get, paths[len(sent) % len(paths)]))
        for request in sent:
            request.cancel()  # a backlog left when the run ends is not sent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def compare_with_http(args: argparse.Namespace, first: list[float]) -> dict[str, float]:
    """Runs without and with the HTTP server in turn, so that a change of the machine's load (or the disk's) touches
    both alike; each side's latencies pooled over its runs."""
    without, with_http = list(first), []
    for round_ in range(args.rounds):
        if round_ > 0:
            without += measure(args, with_http=False)[0]
        with_http += measure(args, with_http=True)[0]
    p50s = [float(np.percentile(x, 50)) for x in (without, with_http)]
    p99s = [float(np.percentile(x, 99)) for x in (without, with_http)]
    print(f"{args.rounds} runs of each, in turn; {len(without):,} and {len(with_http):,} entry orders")
    print(f"tick-to-order without HTTP: p50 {p50s[0]:.3f} ms, p99 {p99s[0]:.3f} ms")
    print(f"tick-to-order with HTTP polled at {args.http_rate:.0f}/s: p50 {p50s[1]:.3f} ms, p99 {p99s[1]:.3f} ms")
    print(f"ratio with/without: p50 {p50s[1] / p50s[0]:.3f}, p99 {p99s[1] / p99s[0]:.3f} (target within 1.10)")
    return {
        "with_http_p50_ms": round(p50s[1], 3),
        "with_http_p99_ms": round(p99s[1], 3),
        "with_http_p50_ratio": round(p50s[1] / p50s[0], 3),
        "with_http_p99_ratio": round(p99s[1] / p99s[0], 3),
    }


if __name__ == "__main__":
    main()
