"""When and how each SIGKILL happens, and the trading in between.

Kinds: ``order`` (the fake server kills the service while handling its k-th order request of the
round, before or after executing it), ``log`` (on the n-th log line of a kind, just after a
transition was committed), ``time`` (after some wall time of trading), ``startup`` (during the
restart itself).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from scripts.crash.database import Database
from scripts.crash.faults import Faults
from scripts.crash.market import Market
from scripts.crash.pacing import wait_cycles, wait_ready, wait_step
from scripts.crash.process import Service
from scripts.crash.protection import ProtectionWatch
from scripts.crash.scenario import CYCLE_CHANCE, MAX_STEPS_PER_ROUND, OPEN_STATES, PREFIX, say
from scripts.crash.signals import SignalInbox
from scripts.crash.tally import Tally
from scripts.fake_binance.errors import ApiError
from scripts.fake_binance.server import FakeBinance

# Log lines to kill on, and the most occurrences of each to wait for: a partial take-profit fills for some positions
# only, and a position is closed at market ("closing") only when its stop or target was crossed before it rested.
LOG_KILLS = {
    ": entry_submitted (": 3,
    ": open (entry filled": 3,
    ": closed (": 3,
    ": partially_closed (": 2,
    ": closing (": 1,
}
HALTED_LOG_KILL = ": closed ("  # what still happens under the operator's halt while a position is open
STARTUP_KILLS = ("TESTNET", "database ", "Binance feed: warm-up")
FALLBACK = "fallback after"  # the kill reason of a round whose armed event never came


class OrderKill:
    """The fake server SIGKILLs the service while handling its k-th order request, executed first or not."""

    def __init__(self, fake: FakeBinance, current: Callable[[], Service | None]) -> None:
        self.current = current
        self._arm: tuple[int, bool] | None = None  # (requests left, execute first)
        self._lock = threading.Lock()
        for path in ("/fapi/v1/order", "/fapi/v1/algoOrder"):
            fake.routes.hook("POST", path, self._hooked)

    def arm(self, requests: int, execute: bool) -> None:
        with self._lock:
            self._arm = (requests, execute)

    def disarm(self) -> None:
        with self._lock:
            self._arm = None

    def _hooked(self, handler: Any) -> Any:
        def hooked(params: dict[str, str]) -> Any:
            cid = params.get("newClientOrderId") or params.get("clientAlgoId") or ""
            fire = None
            with self._lock:
                if self._arm is not None and cid.startswith(PREFIX):
                    left, execute = self._arm
                    if left <= 1:
                        fire, self._arm = execute, None
                    else:
                        self._arm = (left - 1, execute)
            service = self.current()
            if fire is None or service is None:
                return handler(params)
            if fire:
                try:
                    result = handler(params)
                except ApiError as refused:  # refused (the margin, a trigger already passed): the kill still comes
                    service.kill(f"while the exchange refused order {cid} ({refused.code} {refused.msg})")
                    raise
                service.kill(f"while the exchange answered order {cid} (executed)")
                return result
            service.kill(f"while order {cid} reached the exchange (not executed)")
            raise ApiError(
                503, -1001, "Internal error; the order was not executed."
            )  # nobody reads it: the client is gone

        return hooked


class Rounds:
    """A round: trade until the chosen SIGKILL, time down, restart. Every random choice here comes from the
    run's one seeded RNG (shared with the signal inbox), so a seed makes the same choices."""

    def __init__(
        self,
        *,
        rng: random.Random,
        market: Market,
        signals: SignalInbox,
        db: Database,
        tally: Tally,
        order_kill: OrderKill,
        faults: Faults,
        watch: ProtectionWatch,
    ) -> None:
        self.rng, self.market, self.signals, self.db, self.tally = rng, market, signals, db, tally
        self.order_kill, self.faults, self.watch = order_kill, faults, watch

    def trade_until_killed(self, service: Service, kill: int) -> str:
        # Under the operator's halt no entries are made and an order is seldom sent: kill on time then, or on the
        # first close while a position is open.
        if self.tally.halted_at is None:
            weights = (45, 30, 25)
        elif any(r["state"] in OPEN_STATES for r in self.db.positions()):
            weights = (0, 15, 85)
        else:
            weights = (0, 0, 1)
        mode = self.rng.choices(("order", "log", "time"), weights=weights)[0]
        since = len(service.lines)
        timer = None
        if mode == "order":
            k, execute = self.rng.randint(1, 6), self.rng.random() < 0.5
            label = f"order #{k} ({'executed' if execute else 'not executed'})"
            self.order_kill.arm(k, execute)
        elif mode == "log":
            if self.tally.halted_at is None:
                text = self.rng.choice(tuple(LOG_KILLS))
                n = self.rng.randint(1, LOG_KILLS[text])
            else:
                text, n = HALTED_LOG_KILL, 1
            label = f"log {text.strip(': (')!r} #{n}"
            service.arm_log_kill(text, n, since)
        else:
            delay = self.rng.uniform(0.05, 1.5)
            label = f"time {delay:.2f}s"
            timer = threading.Timer(delay, service.kill, args=(f"after {delay:.2f}s of trading",))
            timer.daemon = True
            timer.start()
        self.tally.kill_modes[mode] += 1
        steps = 0
        injected = []
        prefix = self.db.client_prefix()
        while not service.killed and not service.done:
            if steps >= MAX_STEPS_PER_ROUND:
                service.kill(f"{FALLBACK} {steps} steps ({label} did not happen)")
                break
            if self.rng.random() < 0.6:
                self.signals.add(self.rng.randint(1, 2))
            fault = self.faults.step()
            if fault is not None:
                injected.append(fault)
            closes = self.market.step()
            steps += 1
            if wait_step(service, self.db, closes):
                self.watch.check(prefix, kill)
                if self.rng.random() < CYCLE_CHANCE and wait_cycles(service, self.db, 1):
                    self.watch.check(prefix, kill)
        if timer is not None:
            timer.cancel()
        self.order_kill.disarm()
        self.faults.end_round()
        code = service.reap()
        if not service.killed:
            self.tally.failures.append(f"kill {kill}: the service exited by itself with code {code}")
            say(f"  !! the service exited by itself (code {code}):\n{service.text(since)[-3000:]}")
            outcome = "exited by itself"
        elif FALLBACK in service.kill_reason:
            self.tally.fallbacks[mode] += 1
            outcome = "fallback"
        else:
            self.tally.kills_as_armed[mode] += 1
            outcome = "as armed"
        faults = f"; faults: {'; '.join(injected)}" if injected else ""
        return f"{label} -> {outcome}, {steps} steps: killed {service.kill_reason}{faults}"

    def down_time(self) -> str:
        """While the service is down: prices may move on (stops fill while down), signals may arrive."""
        moved = self.rng.choice((0, 0, 1, 2, 3))
        for _ in range(moved):
            self.market.step()
        if self.rng.random() < 0.3:
            self.signals.add(1)
        return f"{moved} candles while down" if moved else ""

    def restart(self, start: Callable[[], Service], kills: int) -> tuple[Service, str]:
        """Start again; sometimes SIGKILL that start-up too (a kill of its own). Returns the ready service."""
        note = ""
        while True:
            service = start()
            if self.tally.kills_done < kills and self.rng.random() < 0.1 and "start-up" not in note:
                text = self.rng.choice(STARTUP_KILLS)
                service.arm_log_kill(text, 1, 0)
                service.reap()
                self.tally.kill_modes["startup"] += 1
                if service.killed:
                    self.tally.kills_as_armed["startup"] += 1
                    note = f"; also killed during start-up at {text.strip()!r} (as armed)"
                else:
                    self.tally.failures.append(f"kill {self.tally.kills_done + 1}: the service ended during start-up")
                    note = f"; start-up armed to be killed at {text.strip()!r} ended by itself"
                self.tally.kills_done += 1
                continue
            if wait_ready(service, self.tally.recovery_actions):
                self.watch.restarted()
                return service, note
            code = service.reap()
            raise RuntimeError(f"the service did not start (exit code {code}):\n{service.text()[-4000:]}")
