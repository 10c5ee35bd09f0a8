"""API benchmark: the HTTP server over a database of 10,000 positions and 1,000,000 transitions, polled with the
dashboard's requests at 20 requests a second for ~30 s; prints the API's p50 and p99 in ms (target p99 < 50 ms).

The last line printed is one JSON object: {"api_p50_ms", "api_p99_ms", "requests", ...}.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from persistence.db import make_engine, open_read_only, sqlite_url  # noqa: E402
from persistence.migrate import upgrade  # noqa: E402
from persistence.tables import EQUITY_SNAPSHOTS, ORDERS, POSITIONS, SIGNAL_DECISIONS, TRANSITIONS  # noqa: E402
from service.http.app import Backend, create_app  # noqa: E402
from service.http.auth import AccessRules  # noqa: E402
from service.http.server import HttpServer, bind  # noqa: E402

START = 1_790_000_000_000
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")
CHUNK = 50_000


def fill(db: Path, positions: int, transitions: int) -> None:
    """Bulk inserts: positions (the newest 20 open), one entry order each, decisions, equity, then transitions
    spread over the positions in order of time (as the service writes them)."""
    engine = make_engine(sqlite_url(db), synchronous="OFF")
    upgrade(engine)
    per = max(1, transitions // positions)
    with engine.begin() as connection:
        rows = []
        for i in range(positions):
            state = "open" if i >= positions - 20 else "closed"
            rows.append(
                dict(id=f"p-{i:06d}", symbol=SYMBOLS[i % 5], side="LONG", state=state, seq=per,
                     client_order_id=f"qt-e-{i:06d}-1", quantity="0.010", filled_quantity="0.010",
                     entry_price="100.5", exit_price=None if state == "open" else "101", stop_price="98.1",
                     take_profit_price="105", realized_pnl="0" if state == "open" else "0.005", fees="0.001",
                     exit_mode="FAST_TP", signal_id=f"s-{i}", close_reason=None, created_at=START + i * 60_000,
                     opened_at=START + i * 60_000, closed_at=None, details="{}")
            )  # fmt: skip
        connection.execute(POSITIONS.insert(), rows)
        connection.execute(
            ORDERS.insert(),
            [dict(position_id=f"p-{i:06d}", client_order_id=f"qt-e-{i:06d}-1", exchange_order_id=str(i),
                  purpose="e", side="BUY", type="MARKET", quantity="0.010", trigger_price=None, reduce_only=False,
                  status="FILLED", filled_quantity="0.010", average_price="100.5", reject_code=None,
                  reject_message=None, created_at=START + i * 60_000, updated_at=START + i * 60_000)
             for i in range(positions)],
        )  # fmt: skip
        connection.execute(
            SIGNAL_DECISIONS.insert(),
            [dict(signal_id=f"s-{i}", at=START + i * 60_000, symbol=SYMBOLS[i % 5], side="LONG", confidence=0.8,
                  source="builtin", reason=random.choice(("ACCEPTED", "BLOCKED_BY_GATE", "BLOCKED_BY_CONFIDENCE")),
                  detail="", position_id=None) for i in range(positions)],
        )  # fmt: skip
        connection.execute(
            EQUITY_SNAPSHOTS.insert(),
            [dict(at=START + i * 60_000, equity=str(10_000 + i % 97), wallet="10000", unrealized_pnl="0",
                  day_start_equity="10000", daily_drawdown_pct=0.0) for i in range(positions)],
        )  # fmt: skip
    states = ("pending_entry", "entry_submitted", "open", "closing", "closed")
    for start in range(0, transitions, CHUNK):
        batch = []
        for n in range(start, min(start + CHUNK, transitions)):
            position, seq = divmod(n, per)
            batch.append(
                dict(machine="position", entity_id=f"p-{position % positions:06d}", seq=seq + 1,
                     source=states[seq % 5], dest=states[(seq + 1) % 5], trigger="t", reason="benchmark row",
                     payload="{}", at=START + n * 600, lease_token=1)
            )  # fmt: skip
        with engine.begin() as connection:
            connection.execute(TRANSITIONS.insert(), batch)
    engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dashboard_requests(positions: int) -> list[str]:
    """What one dashboard poll asks, plus a position's timeline, a page of transitions and a Prometheus scrape."""
    return [
        "/api/status",
        "/api/equity?limit=500",
        "/api/decisions/counts?since=24h",
        "/api/orders?limit=15",
        f"/api/positions/p-{random.randrange(positions):06d}",
        "/api/transitions?limit=100",
        f"/api/transitions?entity=p-{random.randrange(positions):06d}",
        "/api/positions?open=true",
        "/metrics",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=10_000)
    parser.add_argument("--transitions", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=20.0, help="requests a second")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    random.seed(3)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        started = time.perf_counter()
        fill(db, args.positions, args.transitions)
        print(f"database: {args.positions:,} positions, {args.transitions:,} transitions in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        engine = open_read_only(sqlite_url(db))
        backend = Backend(engine=engine, running=lambda: False, command=None)
        port = free_port()
        server = HttpServer(create_app(backend, AccessRules("127.0.0.1", None, False)))
        server.start(bind("127.0.0.1", port))
        latencies: dict[str, list[float]] = {}
        try:
            interval, deadline = 1 / args.rate, time.perf_counter() + args.seconds
            next_at, queue = time.perf_counter(), list[str]()
            while time.perf_counter() < deadline:
                queue = queue or dashboard_requests(args.positions)
                path = queue.pop(0)
                sent = time.perf_counter()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
                    response.read()
                    assert response.status == 200, path
                latencies.setdefault(path.split("?")[0].rsplit("/p-", 1)[0], []).append(
                    (time.perf_counter() - sent) * 1000
                )
                next_at += interval
                time.sleep(max(0.0, next_at - time.perf_counter()))  # paced: 20 requests a second
        finally:
            server.stop()
            engine.dispose()
    every = [ms for values in latencies.values() for ms in values]
    p50, p99 = float(np.percentile(every, 50)), float(np.percentile(every, 99))
    for path, values in sorted(latencies.items()):
        print(f"{path:28} p50 {np.percentile(values, 50):7.2f} ms  p99 {np.percentile(values, 99):7.2f} ms")
    print(f"API over {len(every)} requests at {args.rate:.0f}/s: p50 {p50:.2f} ms, p99 {p99:.2f} ms (target p99 < 50)")
    print(json.dumps({"api_p50_ms": round(p50, 2), "api_p99_ms": round(p99, 2), "requests": len(every)}))


if __name__ == "__main__":
    main()
