"""Persistence benchmark: durable transitions per second, and start-up time on a big database.

1. Transitions through the project's own commit path (`Store.fire`), one per commit,
   with `synchronous=FULL`.
2. A database with 10,000 open positions and 1,000,000 transition rows: the time from
   starting a fresh Python process to "ready" (schema checked, gate and every open
   position loaded into its machine and checked against its last transition).

The last line printed is one JSON object: {"durable_transitions_per_s", "ready_s_10k_1m", ...}.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from persistence import lease  # noqa: E402
from persistence.db import make_engine  # noqa: E402
from persistence.migrate import upgrade  # noqa: E402
from persistence.store import Store  # noqa: E402
from state_machines import position_machine  # noqa: E402


def position_values(index: int) -> dict[str, object]:
    return {
        "id": f"pos-{index}",
        "symbol": "BTCUSDT",
        "side": "LONG",
        "client_order_id": f"qt-e-{index}",
        "quantity": Decimal("0.010"),
        "filled_quantity": Decimal("0"),
        "entry_price": None,
        "exit_price": None,
        "stop_price": None,
        "take_profit_price": None,
        "realized_pnl": Decimal("0"),
        "fees": Decimal("0"),
        "exit_mode": "FAST_TP",
        "signal_id": None,
        "close_reason": None,
        "opened_at": None,
        "closed_at": None,
        "details": "{}",
    }


def durable_transitions_per_s(directory: Path, count: int, *, fenced: bool = False) -> float:
    """`fenced`: with the account lease's fence on the engine, as the service commits (each commit first checks the
    lease's token in its transaction)."""
    engine = make_engine(f"sqlite:///{directory / ('fenced.db' if fenced else 'durable.db')}")
    upgrade(engine)
    if fenced:
        owner = lease.Owner("bench", 1, "bench")
        with engine.begin() as connection:
            held = lease.take(connection, "bench", owner, now=0, lease_ms=10**12, seen=None)
        assert held is not None
        lease.install_fence(engine, held, lambda: 0, lambda why: None)
    store = Store(engine)
    machine = position_machine()
    models = [store.create_position(machine, position_values(i), reason="bench", at=i) for i in range(count // 2)]
    started = time.perf_counter()
    for model in models:
        store.fire(machine, model, "submit", reason="sent", at=1, client_order_id=model.entity_id)
    for model in models:
        store.fire(machine, model, "entry_filled", reason="filled", at=2, price="42000.1")
    elapsed = time.perf_counter() - started
    store.close()
    engine.dispose()
    return 2 * len(models) / elapsed


def build_big_database(path: Path, open_positions: int, transitions: int) -> None:
    """10k open positions (3 transitions each) plus closed ones (4 each) up to `transitions` rows."""
    upgrade(make_engine(f"sqlite:///{path}"))
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    closed = (transitions - 3 * open_positions) // 4
    position_sql = (
        "INSERT INTO positions (id, symbol, side, state, seq, client_order_id, quantity, filled_quantity, "
        "realized_pnl, fees, exit_mode, created_at, details) "
        "VALUES (?, 'BTCUSDT', 'LONG', ?, ?, ?, '0.01', '0.01', '0', '0', 'FAST_TP', 0, '{}')"
    )
    transition_sql = (
        "INSERT INTO transitions (machine, entity_id, seq, source, dest, trigger, reason, payload, at) "
        "VALUES ('position', ?, ?, ?, ?, ?, '', '{}', 0)"
    )
    open_path = [
        ("", "pending_entry", "create"),
        ("pending_entry", "entry_submitted", "submit"),
        ("entry_submitted", "open", "entry_filled"),
    ]
    closed_path = [*open_path, ("open", "closed", "exit_filled")]
    for start in range(0, open_positions + closed, 20_000):
        positions: list[tuple[str, str, int, str]] = []
        rows: list[tuple[str, int, str, str, str]] = []
        for index in range(start, min(start + 20_000, open_positions + closed)):
            steps = open_path if index < open_positions else closed_path
            entity = f"pos-{index}"
            positions.append((entity, steps[-1][1], len(steps), f"qt-e-{index}"))
            rows.extend((entity, seq, src, dst, trig) for seq, (src, dst, trig) in enumerate(steps, start=1))
        connection.executemany(position_sql, positions)
        connection.executemany(transition_sql, rows)
    connection.commit()
    connection.close()


READY = """
import sys, time
from service.startup import open_database
opened = open_database("sqlite:///" + sys.argv[1], now_ms=0)
assert not opened.loaded.mismatches, opened.loaded.mismatches[:3]
print("ready", len(opened.loaded.positions), flush=True)
"""


def ready_seconds(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", READY, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().split()
    elapsed = time.perf_counter() - started
    process.wait()
    if not line or line[0] != "ready":
        raise SystemExit("the loader did not report ready")
    return elapsed, int(line[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=4_000, help="durable transitions to time")
    parser.add_argument("--open-positions", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=1_000_000, help="transition rows in the big database")
    parser.add_argument("--runs", type=int, default=3, help="start-up runs (the median is reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        rate = durable_transitions_per_s(directory, args.transitions)
        print(f"durable transitions: {rate:,.0f}/s (synchronous=FULL, one per commit)")
        fenced = durable_transitions_per_s(directory, args.transitions, fenced=True)
        print(f"durable transitions with the lease's fence: {fenced:,.0f}/s ({fenced / rate:.0%} of the above)")
        big = directory / "big.db"
        started = time.perf_counter()
        build_big_database(big, args.open_positions, args.rows)
        elapsed = time.perf_counter() - started
        print(f"built {args.open_positions:,} open positions / {args.rows:,} transitions in {elapsed:.1f}s")
        runs = sorted(ready_seconds(big) for _ in range(args.runs))
        ready, loaded = runs[len(runs) // 2]
        print(f"process start to ready: {ready:.2f}s median of {args.runs} ({loaded:,} positions loaded)")
    print(
        json.dumps(
            {
                "durable_transitions_per_s": round(rate),
                "fenced_transitions_per_s": round(fenced),
                "ready_s_10k_1m": round(ready, 3),
                "open_positions": args.open_positions,
                "transition_rows": args.rows,
            }
        )
    )


if __name__ == "__main__":
    main()
