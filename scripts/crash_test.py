"""Crash test: `quantum-trader run --live` against the fake Binance server, killed with SIGKILL again and again.

The fake Binance USD-M server runs in this process (a thread), so the script drives its
prices and reads its books and its count of client order ids directly. The service runs
as a real process (`quantum-trader run --live`, fake keys, the Binance feed) on four
symbols with a busy inbox of signals; candles move the prices so entries fill, stops and
take-profits trigger, trailing stops move.

Each round: trade for a while, then SIGKILL the service at a moment chosen by a seeded
RNG, one of:

* ``order``   the fake server kills the service while handling its k-th order request of
              the round, before executing it (the order never existed) or after (it exists,
              the service never heard back);
* ``log``     on the n-th log line of a kind (entry submitted, entry filled, position
              closed, ...): just after a transition was committed, before what follows;
* ``time``    after a random amount of wall time of trading;
* ``startup`` during the restart itself (venue announced, recovery, warm-up).

While it is down the prices may move on (stops fill while down) and signals may arrive.
Then the service is started again; once its start-up and recovery are done and the feed
is quiet (no candles pushed, two policy cycles completed) the checks run:

1. no position lost: every position the exchange holds has a live position in the
   database on the same side with the same open quantity;
2. no client order id reached the exchange twice (the fake server's counts);
3. the database and the exchange agree: no open position in the database that the
   exchange does not hold, every open order of ours on the exchange belongs to a live
   position, and every live position's current stop (the one the database names) rests;
4. every entity's state equals its last transition's target (`load_machines`, and the same
   query over every entity, final ones included);
5. the gate: never halted or locked by anything but the operator; after the operator's
   `gate halt` (set for the last fifth of the run) it is halted at every later check.

Usage: python scripts/crash_test.py [--kills 100] [--seed 1] [--workdir DIR]

Progress goes to stderr; the last line on stdout is one JSON object:
{"kills", "orders", "positions", "lost_positions", "duplicate_orders", "mismatches", ...}.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from actors.execution.book import parse_client_order_id
from persistence.db import open_read_only
from persistence.loading import load_machines
from state_machines import gate_machine, position_machine
from tests.fake_binance.errors import ApiError
from tests.fake_binance.server import EXCHANGE_INFO, FakeBinance

KEY, SECRET = "qt-crash-key-5b1e07", "qt-crash-secret-c93d44"
PREFIX = "qt"
MINUTE = 60_000
CYCLE_S = 0.5
START_PRICES = {"BTCUSDT": Decimal(40000), "ETHUSDT": Decimal(2500), "BNBUSDT": Decimal(300),
                "SOLUSDT": Decimal(150), "LTCUSDT": Decimal(90), "AVAXUSDT": Decimal(35),
                "LINKUSDT": Decimal(15), "DOTUSDT": Decimal(7)}
CLONES = ("BNBUSDT", "SOLUSDT", "LTCUSDT", "AVAXUSDT", "LINKUSDT", "DOTUSDT")
SYMBOLS = tuple(START_PRICES)
FINAL = ("closed", "rejected", "cancelled")
OPEN_STATES = ("open", "partially_closed", "closing")
ENTRY_STATES = ("pending_entry", "entry_submitted", "unknown")
START_TIMEOUT_S = 90.0
STEP_TIMEOUT_S = 30.0
MAX_STEPS_PER_ROUND = 150
LOG_KILLS = (": entry_submitted (", ": open (entry filled", ": closed (", ": partially_closed (", ": closing (")
STARTUP_KILLS = ("TESTNET", "database ", "Binance feed: warm-up")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("quantum-trader")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from service.cli import main; main()", *args]


def exchange_info_with_more_symbols(path: Path) -> Path:
    """The real exchangeInfo sample, plus perpetuals cloned from ETHUSDT (the sample has two)."""
    info = json.loads(EXCHANGE_INFO.read_text())
    eth = next(s for s in info["symbols"] if s["symbol"] == "ETHUSDT")
    for symbol in CLONES:
        clone = copy.deepcopy(eth)
        clone.update(symbol=symbol, pair=symbol, baseAsset=symbol.removesuffix("USDT"))
        for f in clone["filters"]:
            if f["filterType"] == "PRICE_FILTER":
                f["minPrice"] = "0.01"
        info["symbols"].append(clone)
    path.write_text(json.dumps(info))
    return path


# --- the market ---------------------------------------------------------------------------------


class Market:
    """Seeded random walks, one closed 1m candle per symbol per step, open times in the past."""

    def __init__(self, fake: FakeBinance, rng: random.Random, first_open: int) -> None:
        self.fake, self.rng = fake, rng
        self.next_open = first_open
        self.prices = dict(START_PRICES)
        self.drift = {s: 0.0 for s in SYMBOLS}
        self.ticks = {s: fake.engine.filters[s]["tick"] for s in SYMBOLS}
        self.closes: dict[str, Decimal] = {}
        self.candles = 0

    def _round(self, symbol: str, value: float) -> Decimal:
        tick = self.ticks[symbol]
        return (Decimal(str(value)) / tick).quantize(Decimal(1), ROUND_HALF_UP) * tick

    def step(self, *, quiet: bool = False) -> dict[str, Decimal]:
        """Push one candle per symbol; returns the closes."""
        closes = {}
        for symbol in SYMBOLS:
            if self.rng.random() < 0.05:
                self.drift[symbol] = self.rng.gauss(0, 0.0015)
            sigma = 0.0015 if quiet else 0.006
            o = self.prices[symbol]
            pull = -0.02 * math.log(float(o) / float(START_PRICES[symbol]))  # back towards the start price
            c = self._round(symbol, float(o) * (1 + self.drift[symbol] + pull + self.rng.gauss(0, sigma)))
            if c == self.closes.get(symbol) or c <= 0:
                c = self.closes.get(symbol, o) + self.ticks[symbol]  # a close that differs: the step is recognisable
            h = self._round(symbol, float(max(o, c)) * (1 + abs(self.rng.gauss(0, sigma / 3))))
            low = self._round(symbol, float(min(o, c)) * (1 - abs(self.rng.gauss(0, sigma / 3))))
            self.fake.push_candle(symbol, open_time=self.next_open, open=o, high=max(h, o, c), low=min(low, o, c),
                                  close=c, volume="7")
            self.prices[symbol] = closes[symbol] = c
        self.closes = closes
        self.next_open += MINUTE
        self.candles += 1
        return closes


def _same(text: str | None, value: Decimal) -> bool:
    try:
        return text is not None and Decimal(text) == value
    except ArithmeticError:
        return False


# --- the service process -------------------------------------------------------------------------


class Service:
    """One `quantum-trader run --live` process; its stderr lines go to a log file and to waiters."""

    def __init__(self, workdir: Path, env: dict[str, str], number: int, config: Path) -> None:
        self.number = number
        self.log_path = workdir / "service.log"
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.done = False
        self.killed = False
        self.kill_reason = ""
        self._arm: tuple[str, int] | None = None  # (text, occurrences left) -> SIGKILL from the reader
        self.process = subprocess.Popen(command("run", "--live", "--config", str(config)), cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        with self.log_path.open("a") as log:
            log.write(f"===== start {self.number} pid {self.process.pid} =====\n")
            for line in self.process.stderr:
                log.write(line)
                with self.cond:
                    if self._arm is not None and self._arm[0] in line:
                        left = self._arm[1] - 1
                        self._arm = (self._arm[0], left) if left > 0 else None
                        if left <= 0:
                            self.kill(f"on log line {line.strip()[:110]!r}")
                    self.lines.append(line)
                    self.cond.notify_all()
            log.flush()
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def arm_log_kill(self, text: str, occurrences: int, since: int) -> None:
        with self.cond:
            seen = sum(1 for line in self.lines[since:] if text in line)
            if seen >= occurrences:
                self.kill(f"on log line containing {text!r}")
            else:
                self._arm = (text, occurrences - seen)

    def kill(self, reason: str) -> None:
        if self.killed:
            return
        self.killed, self.kill_reason = True, reason
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)

    def wait_for(self, text: str, since: int = 0, timeout: float = START_TIMEOUT_S) -> int | None:
        """Index of the first line at or after `since` containing `text`; None if the process ended first."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for index in range(since, len(self.lines)):
                    if text in self.lines[index]:
                        return index
                since = len(self.lines)
                if self.done:
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no log line with {text!r} after {timeout:.0f}s")
                self.cond.wait(remaining)

    def reap(self) -> int:
        code = self.process.wait(timeout=30)
        self._reader.join(10)
        return code

    def text(self, since: int = 0) -> str:
        with self.cond:
            return "".join(self.lines[since:])


# --- the database, read only ---------------------------------------------------------------------


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10, check_same_thread=False)
            self._conn.row_factory = sqlite3.Row
        return self._conn

    def heartbeat(self) -> tuple[int, dict[str, str]] | None:
        try:
            row = self.conn().execute("SELECT at, prices FROM heartbeat").fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None else (int(row["at"]), json.loads(row["prices"] or "{}"))

    def positions(self) -> list[sqlite3.Row]:
        return self.conn().execute("SELECT * FROM positions ORDER BY created_at, id").fetchall()

    def gate(self) -> sqlite3.Row | None:
        return self.conn().execute("SELECT state, reason, locked_until, seq FROM gate").fetchone()

    def all_entity_mismatches(self) -> list[str]:
        """Every entity (final positions too): state and seq against its last transition."""
        found = []
        for table, machine in (("positions", "position"), ("gate", "gate")):
            rows = self.conn().execute(f"""
                SELECT e.id, e.state, e.seq, t.dest, t.seq AS tseq FROM {table} e
                LEFT JOIN transitions t ON t.machine = ? AND t.entity_id = e.id
                  AND t.seq = (SELECT MAX(seq) FROM transitions x WHERE x.machine = ? AND x.entity_id = e.id)
            """, (machine, machine)).fetchall()
            for r in rows:
                if r["dest"] != r["state"] or r["tseq"] != r["seq"]:
                    found.append(f"{machine} {r['id']}: state {r['state']!r} seq {r['seq']}, last transition "
                                 f"to {r['dest']!r} seq {r['tseq']}")
        return found

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def load_machines_mismatches(db_path: Path) -> list[str]:
    engine = open_read_only(f"sqlite:///{db_path}")
    try:
        with engine.connect() as connection:
            loaded = load_machines(connection, position_machine(), gate_machine())
        return [m.describe() for m in loaded.mismatches]
    finally:
        engine.dispose()


# --- the crash test --------------------------------------------------------------------------------


class CrashTest:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args, self.workdir = args, workdir
        self.rng = random.Random(args.seed)
        info = exchange_info_with_more_symbols(workdir / "exchange_info.json")
        self.fake = FakeBinance(api_key=KEY, api_secret=SECRET, exchange_info_path=info).start()
        for symbol, price in START_PRICES.items():
            self.fake.set_price(symbol, price)
        # Candle open times: far enough in the past for every step of the run to be closed already.
        budget = 300 + 5 + args.kills * (MAX_STEPS_PER_ROUND + 8) + 50
        first = (int(time.time() * 1000) // MINUTE - budget) * MINUTE
        self.market = Market(self.fake, random.Random(args.seed * 7919 + 1), first)
        for _ in range(305):
            self.market.step(quiet=True)
        self.db_path = workdir / "crash.db"
        self.db = Database(self.db_path)
        self.inbox = workdir / "inbox.jsonl"
        self.inbox.touch()
        self.signals = 0
        self.env = os.environ | {
            "QT_DATABASE__URL": f"sqlite:///{self.db_path}",
            "QT_EXCHANGE__KIND": "binance", "QT_EXCHANGE__API_KEY": KEY, "QT_EXCHANGE__API_SECRET": SECRET,
            "QT_EXCHANGE__BASE_URL": self.fake.base_url, "QT_EXCHANGE__CLIENT_ID_PREFIX": PREFIX,
            "QT_FEED__KIND": "binance", "QT_SYMBOLS": json.dumps(list(SYMBOLS)),
            "QT_SIGNALS__BUILTIN": "false", "QT_SIGNALS__INBOX": str(self.inbox),
            "QT_ORCHESTRATOR__CYCLE_SECONDS": str(CYCLE_S),
        }
        # A drawdown lock would last until the next UTC day of wall time and stop all entries for the rest of the
        # run; the operator's halt is what this test checks for survival.
        self.config = workdir / "settings.toml"
        # Random signals lose money: the symbol-performance filter would soon disallow every symbol for a week.
        # Room for more open positions than symbols: a position stuck by a bug must not pause every entry.
        self.config.write_text("[profiles.SAFE]\ndaily_drawdown_limit_pct = 0.5\nmax_open_positions = 12\n\n"
                               "[orchestrator.flags]\nuse_for_signal_filter = false\n")
        self.quarantined: set[str] = set()  # symbols with a lost position: no more signals there
        self.service: Service | None = None
        self.starts = 0
        # The order hook: the fake server SIGKILLs the service while handling its k-th order request.
        self._order_arm: tuple[int, bool] | None = None  # (requests left, execute first)
        self._order_lock = threading.Lock()
        for route in (("POST", "/fapi/v1/order"), ("POST", "/fapi/v1/algoOrder")):
            security, handler = self.fake._routes[route]
            self.fake._routes[route] = (security, self._hooked(handler))
        # Findings.
        self.lost: dict[str, str] = {}
        self.mismatches: dict[str, str] = {}
        self.failures: list[str] = []
        self.recovery_actions: Counter[str] = Counter()
        self.kill_modes: Counter[str] = Counter()
        self.halted_at: int | None = None
        self.halt_kept = 0
        self.check_seconds: list[float] = []

    # --- killing from inside the fake server ---------------------------------------------------------

    def _hooked(self, handler: Any) -> Any:
        def hooked(params: dict[str, str]) -> Any:
            cid = params.get("newClientOrderId") or params.get("clientAlgoId") or ""
            fire = None
            with self._order_lock:
                if self._order_arm is not None and cid.startswith(PREFIX + "-"):
                    left, execute = self._order_arm
                    if left <= 1:
                        fire, self._order_arm = execute, None
                    else:
                        self._order_arm = (left - 1, execute)
            service = self.service
            if fire is None or service is None:
                return handler(params)
            if fire:
                result = handler(params)
                service.kill(f"while the exchange answered order {cid} (executed)")
                return result
            service.kill(f"while order {cid} reached the exchange (not executed)")
            raise ApiError(503, -1001, "Internal error; the order was not executed.")  # nobody reads it: the client is gone
        return hooked

    # --- the service ---------------------------------------------------------------------------------

    def start_service(self) -> Service:
        self.starts += 1
        self.service = Service(self.workdir, self.env, self.starts, self.config)
        return self.service

    def wait_ready(self, service: Service) -> bool:
        """The start-up (recovery included) and the warm-up are over; False if the process ended first."""
        index = service.wait_for("live klines from the market stream")
        if index is None:
            return False
        text = service.text()
        for line in text.splitlines():
            if "quantum_trader.execution: recovery: " in line:
                kind = line.split("recovery: ", 1)[1].split(" ", 1)[0]
                self.recovery_actions[kind] += 1
        return True

    def wait_cycles(self, service: Service, cycles: int = 2) -> None:
        """Until the service has completed `cycles` policy cycles begun after now (its heartbeat moved on)."""
        start = int(time.time() * 1000)
        beats = 0
        last = None
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while time.monotonic() < deadline and not service.done:
            beat = self.db.heartbeat()
            if beat is not None and beat[0] > start and beat[0] != last:
                last, beats = beat[0], beats + 1
                if beats >= cycles:
                    return
            time.sleep(0.02)
        if not service.done:
            raise TimeoutError("the service's heartbeat did not move")

    def wait_step(self, service: Service, closes: dict[str, Decimal]) -> bool:
        """Until the service has finished the step of these closes (its heartbeat names them); False if it died."""
        want = {s: str(c) for s, c in closes.items()}
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while time.monotonic() < deadline:
            if service.done or service.killed:
                return False
            beat = self.db.heartbeat()
            if beat is not None and all(_same(beat[1].get(s), c) for s, c in closes.items()):
                return True
            time.sleep(0.01)
        raise TimeoutError(f"the service did not finish the step of {want}")

    # --- signals -------------------------------------------------------------------------------------

    def add_signals(self, count: int) -> None:
        lines = []
        for _ in range(count):
            self.signals += 1
            symbols = [s for s in SYMBOLS if s not in self.quarantined] or list(SYMBOLS)
            lines.append(json.dumps({"id": f"crash-{self.args.seed}-{self.signals}", "symbol": self.rng.choice(symbols),
                                     "side": self.rng.choice(("LONG", "SHORT")),
                                     "confidence": round(self.rng.uniform(0.62, 0.95), 2)}) + "\n")
        with self.inbox.open("a") as handle:
            handle.write("".join(lines))

    # --- one round ---------------------------------------------------------------------------------------

    def trade_until_killed(self, service: Service, kill: int) -> str:
        # Under the operator's halt no entries are made, so order and log events are rare: kill on time then.
        weights = (45, 30, 25) if self.halted_at is None else (10, 5, 85)
        mode = self.rng.choices(("order", "log", "time"), weights=weights)[0]
        since = len(service.lines)
        if mode == "order":
            k, execute = self.rng.randint(1, 6), self.rng.random() < 0.5
            label = f"order #{k} ({'executed' if execute else 'not executed'})"
            with self._order_lock:
                self._order_arm = (k, execute)
        elif mode == "log":
            text, n = self.rng.choice(LOG_KILLS), self.rng.randint(1, 3)
            label = f"log {text.strip(': (')!r} #{n}"
            service.arm_log_kill(text, n, since)
        else:
            delay = self.rng.uniform(0.05, 1.5)
            label = f"time {delay:.2f}s"
            timer = threading.Timer(delay, service.kill, args=(f"after {delay:.2f}s of trading",))
            timer.daemon = True
            timer.start()
        self.kill_modes[mode] += 1
        steps = 0
        while not service.killed and not service.done:
            if steps >= MAX_STEPS_PER_ROUND:
                service.kill(f"fallback after {steps} steps ({label} did not happen)")
                label += " -> fallback"
                break
            if self.rng.random() < 0.6:
                self.add_signals(self.rng.randint(1, 2))
            closes = self.market.step()
            steps += 1
            self.wait_step(service, closes)
        with self._order_lock:
            self._order_arm = None
        code = service.reap()
        if not service.killed:
            self.failures.append(f"kill {kill}: the service exited by itself with code {code}")
            say(f"  !! the service exited by itself (code {code}):\n{service.text(since)[-3000:]}")
        return f"{label}, {steps} steps: killed {service.kill_reason}"

    def down_time(self) -> str:
        """While the service is down: prices may move on (stops fill while down), signals may arrive."""
        moved = self.rng.choice((0, 0, 1, 2, 3))
        for _ in range(moved):
            self.market.step()
        if self.rng.random() < 0.3:
            self.add_signals(1)
        return f"{moved} candles while down" if moved else ""

    def restart(self, kill: int) -> tuple[Service, str]:
        """Start again; sometimes SIGKILL that start-up too (a kill of its own). Returns the ready service."""
        note = ""
        while True:
            service = self.start_service()
            if self.kills_done < self.args.kills and self.rng.random() < 0.1 and "start-up" not in note:
                text = self.rng.choice(STARTUP_KILLS)
                service.arm_log_kill(text, 1, 0)
                service.reap()
                note = f"; also killed during start-up at {text.strip()!r}"
                self.kill_modes["startup"] += 1
                self.kills_done += 1
                continue
            if self.wait_ready(service):
                return service, note
            code = service.reap()
            raise RuntimeError(f"the service did not start (exit code {code}):\n{service.text()[-4000:]}")

    # --- checks ------------------------------------------------------------------------------------------

    def check(self, kill: int) -> list[str]:
        """After a recovery with the feed quiet. Returns what failed (also recorded)."""
        engine = self.fake.engine
        with engine.lock:
            held = {s: q for s, (q, _) in engine.positions.items() if q != 0}
            open_orders = [(o.client_order_id, o.symbol, o.order_type) for o in engine.orders.values()
                           if o.status in ("NEW", "PARTIALLY_FILLED")]
            open_orders += [(a.client_algo_id, a.symbol, a.order_type) for a in engine.algos.values() if a.status == "NEW"]
        rows = self.db.positions()
        live = [r for r in rows if r["state"] not in FINAL]
        problems: list[tuple[str, str, str]] = []  # (kind, key, text)

        def open_quantity(row: sqlite3.Row) -> Decimal:
            closed = Decimal(json.loads(row["details"] or "{}").get("closed", "0"))
            return Decimal(row["filled_quantity"]) - closed

        for symbol, qty in sorted(held.items()):
            side = "LONG" if qty > 0 else "SHORT"
            mine = [r for r in live if r["symbol"] == symbol]
            good = [r for r in mine if r["state"] in OPEN_STATES and r["side"] == side and open_quantity(r) == abs(qty)]
            if not good:
                self.quarantined.add(symbol)  # a stuck position there blocks the symbol (one position per symbol)
                seen = "; ".join(f"{r['id']} {r['state']} {r['side']} open {open_quantity(r)}" for r in mine) or "nothing"
                problems.append(("lost", f"{symbol}:{qty}", (f"exchange holds {side} {abs(qty)} {symbol}; the database's "
                                                            f"live positions there: {seen}")))
        for r in live:
            if r["state"] in ENTRY_STATES and r["symbol"] not in held:  # else counted as a lost position above
                problems.append(("mismatch", f"entry:{r['id']}", (f"{r['id']} {r['symbol']} still {r['state']} with the "
                                                                  f"system quiet after recovery")))
            elif r["state"] in OPEN_STATES and r["symbol"] not in held:
                problems.append(("mismatch", f"flat:{r['id']}", (f"{r['id']} {r['symbol']} {r['state']} in the database, "
                                                                 f"the exchange holds nothing")))
        for symbol, count in Counter(r["symbol"] for r in live).items():
            if count > 1:
                problems.append(("mismatch", f"two:{symbol}", f"{count} live positions on {symbol}"))
        live_ids = {r["id"] for r in live}
        resting = {cid for cid, _, _ in open_orders}
        for cid, symbol, order_type in open_orders:
            parsed = parse_client_order_id(PREFIX, cid)
            if parsed is not None and parsed[1] not in live_ids:
                problems.append(("mismatch", f"orphan:{cid}", (f"open {order_type} {cid} on {symbol} belongs to no live "
                                                               f"position")))
        for r in live:
            if r["state"] not in ("open", "partially_closed"):
                continue
            orders = json.loads(r["details"] or "{}").get("orders", {})
            stop = orders.get("sl")
            if stop is None or stop not in resting:
                problems.append(("mismatch", f"stop:{r['id']}:{stop}",
                                 f"{r['id']} {r['symbol']} {r['state']}: its stop {stop} is not resting on the exchange"))
            tp = orders.get("tp")
            if r["take_profit_price"] is not None and (tp is None or tp not in resting):
                problems.append(("mismatch", f"tp:{r['id']}:{tp}",
                                 f"{r['id']} {r['symbol']} {r['state']}: its take-profit {tp} is not resting"))
        for text in load_machines_mismatches(self.db_path) + self.db.all_entity_mismatches():
            problems.append(("mismatch", f"audit:{text}", f"audit trail: {text}"))
        gate = self.db.gate()
        if gate is None:
            problems.append(("mismatch", "gate:none", "no gate row"))
        elif self.halted_at is not None:
            if gate["state"] != "halted":
                problems.append(("mismatch", f"gate:lost-halt:{kill}", (f"the operator's halt (set after kill "
                                                                        f"{self.halted_at}) did not survive: gate "
                                                                        f"{gate['state']} ({gate['reason']})")))
        elif gate["state"] in ("halted", "locked"):
            problems.append(("mismatch", f"gate:{gate['state']}:{gate['reason']}",
                             f"gate {gate['state']} without the operator: {gate['reason']}"))
        failed = []
        for kind, key, text in problems:
            book = self.lost if kind == "lost" else self.mismatches
            if key not in book:
                book[key] = f"kill {kill}: {text}"
            failed.append(f"{kind}: {text}")
        return failed

    def settled_check(self, service: Service, kill: int) -> list[str]:
        """The checks once the quiet service has finished what it had in hand; a transient picture gets a few
        more cycles before it counts (an entry's fill applied at the next cycle, a protective order then placed)."""
        self.wait_cycles(service, 2)
        snapshot = (dict(self.lost), dict(self.mismatches))
        for attempt in range(3):
            failed = self.check(kill)
            if not failed or attempt == 2:
                gate = self.db.gate()
                if self.halted_at is not None and gate is not None and gate["state"] == "halted":
                    self.halt_kept += 1
                return failed
            self.lost, self.mismatches = dict(snapshot[0]), dict(snapshot[1])
            self.wait_cycles(service, 2)
        return failed

    def gate_command(self, kill: int, verb: str, reason: str) -> str | None:
        """`quantum-trader gate halt|resume` (through the running service), then `gate --json`; the state after."""
        result = subprocess.run(command("gate", verb, "--reason", reason, "--config", str(self.config)),
                                cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=60, check=False)
        gate = subprocess.run(command("gate", "--json", "--config", str(self.config)), cwd=self.workdir, env=self.env,
                              capture_output=True, text=True, timeout=60, check=False)
        state = (json.loads(gate.stdout or "null") or {}).get("state")
        say(f"  operator: gate {verb} -> {' '.join((result.stdout or result.stderr).split())}; gate --json: {state}")
        want = "halted" if verb == "halt" else "open"
        if state != want and not (verb == "resume" and state == "paused"):
            self.failures.append(f"kill {kill}: `gate {verb}` left the gate {state}: {result.stdout} {result.stderr}")
        return state

    def operator_halt(self, kill: int) -> None:
        self.gate_command(kill, "halt", f"crash test: operator halt after kill {kill}")
        self.halted_at = kill

    # --- the run -------------------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        began = time.monotonic()
        kills = self.args.kills
        halt_after = max(1, kills - max(1, kills // 5)) if kills >= 2 else None
        self.kills_done = 0
        service = self.start_service()
        if not self.wait_ready(service):
            raise RuntimeError(f"the service did not start:\n{service.text()[-4000:]}")
        failed = self.settled_check(service, 0)
        for line in failed:
            say(f"  FAIL before any kill: {line}")
        while self.kills_done < kills:
            kill = self.kills_done + 1
            t0 = time.monotonic()
            how = self.trade_until_killed(service, kill)
            self.kills_done += 1
            down = self.down_time()
            service, note = self.restart(kill)
            failed = self.settled_check(service, kill)
            figures = self.figures()
            say(f"kill {self.kills_done}/{kills} [{how}{'; ' + down if down else ''}{note}] "
                f"-> orders {figures['orders']}, positions {figures['positions']} ({figures['open_now']} open), "
                f"{'OK' if not failed else 'FAILED'} ({time.monotonic() - t0:.1f}s)")
            for line in failed:
                say(f"  FAIL after kill {kill}: {line}")
            gate = self.db.gate()
            if self.halted_at is None and gate is not None and gate["state"] == "halted":
                # Counted above as a mismatch. An operator who looked reopens it, so that the rest of the run trades.
                self.gate_command(kill, "resume", "crash test: resumed after recording the unexpected halt")
            if halt_after is not None and self.kills_done >= halt_after and self.halted_at is None:
                self.operator_halt(kill)
        service.process.send_signal(signal.SIGTERM)
        code = service.reap()
        if code != 0:
            self.failures.append(f"the last service did not stop cleanly on SIGTERM (exit code {code})")
        result = self.figures()
        result["seconds"] = round(time.monotonic() - began, 1)
        return result

    def figures(self) -> dict[str, Any]:
        counts = self.fake.client_order_id_counts()
        ours = {cid: n for cid, n in counts.items() if parse_client_order_id(PREFIX, cid) is not None}
        duplicates = {cid: n for cid, n in ours.items() if n > 1}
        rows = self.db.positions()
        states = Counter(r["state"] for r in rows)
        return {
            "kills": self.kills_done, "orders": len(ours), "positions": len(rows),
            "lost_positions": len(self.lost), "duplicate_orders": len(duplicates), "mismatches": len(self.mismatches),
            "open_now": sum(states[s] for s in OPEN_STATES),
            "positions_by_state": dict(sorted(states.items())),
            "opened": sum(1 for r in rows if r["opened_at"] is not None),
            "candles": self.market.candles, "signals": self.signals, "starts": self.starts,
            "kill_modes": dict(self.kill_modes), "quarantined_symbols": sorted(self.quarantined), "recovery_actions": dict(self.recovery_actions),
            "operator_halt_after_kill": self.halted_at, "halt_survived_checks": self.halt_kept,
            "duplicate_ids": duplicates, "lost": list(self.lost.values()), "mismatch_details": list(self.mismatches.values()),
            "failures": self.failures,
        }

    def close(self) -> None:
        if self.service is not None and self.service.process.poll() is None:
            self.service.kill("cleanup")
            self.service.reap()
        self.db.close()
        self.fake.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=100, help="SIGKILLs of the service (default 100)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every random choice (default 1)")
    parser.add_argument("--workdir", type=Path, help="keep the database, inbox and service log here "
                                                     "(default: a temporary directory, removed unless a check failed)")
    args = parser.parse_args(argv)
    if args.kills < 1:
        parser.error("--kills must be at least 1")
    temp = None
    if args.workdir is None:
        temp = tempfile.mkdtemp(prefix="qt-crash-")
        workdir = Path(temp)
    else:
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    say(f"crash test: {args.kills} kills, seed {args.seed}, work directory {workdir}")
    test = CrashTest(args, workdir)
    try:
        result = test.run()
    finally:
        test.close()
    bad = result["lost_positions"] or result["duplicate_orders"] or result["mismatches"] or result["failures"]
    say(f"done in {result['seconds']}s: {result['kills']} kills, {result['orders']} client order ids, "
        f"{result['positions']} positions ({result['opened']} opened), {result['candles']} candles, "
        f"{result['signals']} signals; lost {result['lost_positions']}, duplicates {result['duplicate_orders']}, "
        f"mismatches {result['mismatches']}")
    for line in result["lost"] + result["mismatch_details"] + result["failures"]:
        say(f"  FAIL {line}")
    if temp is not None and not bad:
        import shutil

        shutil.rmtree(temp, ignore_errors=True)
    elif bad:
        say(f"kept for inspection: {workdir} (service.log, crash.db, inbox.jsonl)")
    print(json.dumps(result), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
