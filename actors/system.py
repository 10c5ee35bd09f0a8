"""Wiring, start and stop order, and supervision of the actors.

The driver (the service runner, a replay, a test) hands each time step to the
market-data actor and waits until execution has finished it, so a step's
messages never race the next step's: replays are deterministic. The actors run
on pykka threads (the service) or on the driver's own thread (a replay), the
same classes either way (actors/runtime.py).

A crashed actor (a raise in a handler, or in `on_start`) is restarted with its
state reloaded from the database, after a delay that doubles with each of its
recent failures; the step it was on is abandoned, and the driver waits until no
message of that step is still on its way before it hands in the next. Too many
restarts in a window halt the gate with the reason and ask the driver to stop.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import defaultdict, deque
from dataclasses import dataclass

import pykka
from sqlalchemy import Engine

from actors.base import ActorContext, Failure, FaultHook, Ready, Registry, SupervisedActor
from actors.clock import Clock
from actors.execution.actor import ExecutionActor, RecoveryAsked
from actors.execution.recovery import Action
from actors.exits.actor import ExitsActor
from actors.market_data.actor import MarketDataActor
from actors.messages import Candle, CandleBatch, HaltGate, OperatorCommand, Shutdown, Tick
from actors.orchestrator.actor import OrchestratorActor
from actors.pipeline import ROUTES
from actors.risk.actor import RiskActor
from actors.runtime import Runtime, ThreadRuntime
from actors.signals.actor import SignalsActor
from config import Settings
from exchange.factory import make_exchange
from exchange.port import ExchangePort
from persistence import records
from persistence.lease import Fenced
from persistence.store import Store
from state_machines import GateState, gate_machine

log = logging.getLogger("quantum_trader.system")

ACTORS: dict[str, type[SupervisedActor]] = {
    "orchestrator": OrchestratorActor,
    "execution": ExecutionActor,
    "risk": RiskActor,
    "signals": SignalsActor,
    "exits": ExitsActor,
    "market_data": MarketDataActor,
}
# Downstream first, so every tell finds its target; the orchestrator before execution, which may ask it to halt.
START_ORDER = ("orchestrator", "execution", "risk", "signals", "exits", "market_data")
STOP_ORDER = ("market_data", "exits", "signals", "risk", "orchestrator", "execution")
MAX_RESTARTS = 3
RESTART_WINDOW_MS = 600_000
STEP_TIMEOUT_S = 120.0
PAPER_STATE = records.PAPER_EXCHANGE_STATE


class StepTimeout(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long the supervisor waits before restarting an actor: `first_s` after its first failure in the
    window, doubling with each further one, never more than `cap_s` (a crash loop must not spin)."""

    first_s: float = 0.5
    cap_s: float = 30.0

    def delay(self, failures: int) -> float:
        """The wait before the restart that follows an actor's `failures`-th failure within the window."""
        return min(self.cap_s, self.first_s * 2 ** max(0, failures - 1))


class TradingSystem:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        engine: Engine,
        *,
        exchange: ExchangePort | None = None,
        fault_hook: FaultHook | None = None,
        durable_steps: bool = False,
        runtime: Runtime | None = None,
    ) -> None:
        """`durable_steps` (the service): every step's records are durable as it goes: the paper account is saved
        with the first commit of execution after each change of it, so that after a kill it is never behind the
        database, and each new policy is written when it comes in force. A replay saves the account at stop and
        writes its policy snapshots in batches (nothing reads them while it runs).
        `runtime`: pykka threads by default; `InlineRuntime()` runs every actor on the driver's thread, where a
        failure is supervised before `step` returns."""
        self.runtime: Runtime = runtime if runtime is not None else ThreadRuntime()
        self.ctx = ActorContext(
            settings=settings,
            clock=clock,
            engine=engine,
            registry=Registry(),
            failures=queue.SimpleQueue(),
            step_done=queue.SimpleQueue(),
            exchange=exchange if exchange is not None else make_exchange(settings, engine),
            durable_steps=durable_steps,
            fault_hook=fault_hook,
        )
        self.restarts: deque[int] = deque()
        self.restart_log: list[tuple[str, str]] = []
        self.backoff = Backoff()
        self.restart_delays: list[tuple[str, float]] = []  # (actor, seconds waited before its restart)
        self._failed_at: defaultdict[str, deque[int]] = defaultdict(deque)  # each actor's failures in the window
        self.fatal: str | None = None
        self.stop_requested = threading.Event()
        self._stopping = threading.Event()  # cuts a restart's wait short: nothing is restarted into a stop
        self._in_flight: int | None = None  # the step the driver waits on, which a failure aborts
        self._lock = threading.Lock()
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start every actor and return once each has finished starting (recovery included)."""
        for name in START_ORDER:
            self._start(name)
        if not self.runtime.threaded:
            self._supervise_pending()
            return
        self._supervisor.start()
        for name in START_ORDER:
            ref = self.ctx.registry.get(name)
            try:
                if ref is not None:
                    ref.ask(Ready(), timeout=STEP_TIMEOUT_S)
            except pykka.ActorDeadError:
                continue  # failed in on_start: the supervisor has it

    def recovery(self) -> tuple[Action, ...]:
        """The recovery plan the execution actor applied at its (last) start."""
        execution = self.ctx.registry.get("execution")
        if execution is None:
            return ()
        actions: tuple[Action, ...] = execution.ask(RecoveryAsked(), block=True, timeout=STEP_TIMEOUT_S)
        return actions

    def stop(self, reason: str = "stopped") -> None:
        """Graceful: no new entries, every queued message handled, state persisted; resting orders stay."""
        self._stopping.set()
        execution = self.ctx.registry.get("execution")
        if execution is not None and execution.is_alive():
            execution.tell(Shutdown(reason=reason))
        for name in STOP_ORDER:
            ref = self.ctx.registry.get(name)
            if ref is not None and ref.is_alive():
                ref.stop(block=True, timeout=STEP_TIMEOUT_S)
        self.ctx.exchange.close()  # a live port's user-data stream and HTTP session; resting orders stay
        self.ctx.failures.put(None)  # wakes the supervisor to end
        if self._supervisor.is_alive():
            self._supervisor.join(timeout=10)

    # --- driving --------------------------------------------------------------------------

    def step(self, at: int, candles: tuple[Candle, ...], *, cleaned: bool = False) -> None:
        """`cleaned`: the feed already cleaned `candles` (see `CandleBatch`)."""
        self._hand_in(at, CandleBatch(at=at, candles=candles, cleaned=cleaned))

    def operator_commands(self) -> int:
        """Hand the operator's queued gate commands to the orchestrator (call between steps)."""
        with self.ctx.engine.connect() as connection:
            pending = records.pending_operator_commands(connection)
        orchestrator = self.ctx.registry.get("orchestrator")
        if orchestrator is None:
            return 0
        for command_id, command, reason in pending:
            orchestrator.ask(
                OperatorCommand(command_id=command_id, command=command, reason=reason), timeout=STEP_TIMEOUT_S
            )
        return len(pending)

    def tick(self, at: int) -> None:
        self._hand_in(at, Tick(at=at))

    def _hand_in(self, at: int, message: CandleBatch | Tick) -> None:
        """One step at a time: returns once the step is done, or abandoned with nothing of it still on its way."""
        self._drain()
        with self._lock:
            self._in_flight = at
        try:
            self.ctx.registry.tell("market_data", message)
            if not self.runtime.threaded:
                self.runtime.run()  # the whole step, on this thread
                self._supervise_pending()
            self._await(at)
        finally:
            with self._lock:
                self._in_flight = None
        self._drain()

    def _await(self, at: int) -> None:
        """Tokens name their step: one of an earlier step (a 'done' that lost the race with its abort) is passed
        over, so it can never end this step before it is done. Inline, the step has run when this is called: a
        missing token means it stalled."""
        timeout = STEP_TIMEOUT_S if self.runtime.threaded else 0.0
        while True:
            try:
                kind, token_at = self.ctx.step_done.get(timeout=timeout)
            except queue.Empty:
                if not self.runtime.threaded:
                    raise StepTimeout(f"step at {at} stalled: every message of it was handled, none ended it") from None
                raise StepTimeout(f"step at {at} not finished after {timeout:.0f}s") from None
            if token_at != at:
                continue
            if kind == "aborted":
                self._settle(at)
            return

    def _settle(self, at: int) -> None:
        """After an abort: wait until no actor still holds a message of the step. A failure beside the step
        aborts it too, while its messages may still be going; asking each stage's actor in pipeline order
        chases them to the end (or to a dead actor, where they were lost)."""
        for _, name in ROUTES:
            ref = self.ctx.registry.get(name)
            if ref is None:
                continue
            try:
                ref.ask(Ready(), timeout=STEP_TIMEOUT_S)
            except pykka.ActorDeadError:
                continue  # its messages died with it; the supervisor has it
            except pykka.Timeout:
                raise StepTimeout(f"step at {at}: {name} still busy {STEP_TIMEOUT_S:.0f}s after its abort") from None

    def _drain(self) -> None:
        """Drop tokens of steps already over, so the queue holds only the step in flight's (the driver is the only
        one that takes from it: a queue not empty has a token for `get_nowait`)."""
        step_done = self.ctx.step_done
        while not step_done.empty():
            step_done.get_nowait()

    # --- supervision ----------------------------------------------------------------------

    def _start(self, name: str) -> None:
        self.ctx.registry.set(name, self.runtime.spawn(ACTORS[name], self.ctx))

    def _supervise(self) -> None:
        while True:
            failure = self.ctx.failures.get()
            if failure is None:
                return
            self._on_failure(failure)

    def _supervise_pending(self) -> None:
        """Inline: the failures the actors reported so far, handled on the driver's thread; a restarted actor's
        start may report again (or send), so until none is left."""
        failures = self.ctx.failures
        while not failures.empty():
            failure = failures.get_nowait()
            if failure is not None:
                self._on_failure(failure)
                self.runtime.run()

    def _on_failure(self, failure: Failure) -> None:
        now = self.ctx.clock.now_ms()
        self.restart_log.append((failure.actor, f"{failure.phase}: {failure.error!r}"))
        self.restarts.append(now)
        while self.restarts and now - self.restarts[0] > RESTART_WINDOW_MS:
            self.restarts.popleft()
        recent = self._failed_at[failure.actor]
        recent.append(now)
        while recent and now - recent[0] > RESTART_WINDOW_MS:
            recent.popleft()
        if self.fatal is not None:
            pass  # already halting: the step is abandoned, nothing is restarted
        elif isinstance(failure.error, Fenced):
            # Another process owns the account now: nothing to restart, and the gate is its to halt, not ours.
            self.fatal = f"{failure.actor} was fenced off: {failure.error}"
            log.critical("supervisor: %s; stopping", self.fatal)
            self.stop_requested.set()
        elif len(self.restarts) > MAX_RESTARTS:
            self.fatal = (
                f"{len(self.restarts)} actor failures within {RESTART_WINDOW_MS // 1000}s, "
                f"last {failure.actor} ({failure.phase}): {failure.error!r}"
            )
            log.critical("supervisor: %s; halting the gate and stopping", self.fatal)
            self._halt(self.fatal)
            self.stop_requested.set()
        else:
            self._restart(failure, self.backoff.delay(len(recent)))
        with self._lock:
            aborted = self._in_flight  # the step the failure was on; between steps, none
        if aborted is not None:
            self.ctx.step_done.put(("aborted", aborted))

    def _restart(self, failure: Failure, delay: float) -> None:
        log.error(
            "supervisor: %s failed (%s): %r; restarting it in %.1fs",
            failure.actor,
            failure.phase,
            failure.error,
            delay,
        )
        old = self.ctx.registry.get(failure.actor)
        if old is not None and old.is_alive():
            old.stop(block=True, timeout=STEP_TIMEOUT_S)
        self.restart_delays.append((failure.actor, delay))
        if self._stopping.wait(delay):
            log.info("supervisor: %s not restarted: the system is stopping", failure.actor)
            return
        self._start(failure.actor)

    def _halt(self, reason: str) -> None:
        """Through the gate's owner, else straight in the database. Never raises: the supervisor must go on
        (the driver waits for its abort), and the service stops all the same."""
        orchestrator = self.ctx.registry.get("orchestrator")
        if orchestrator is not None and orchestrator.is_alive():
            try:
                orchestrator.ask(HaltGate(reason=reason), timeout=STEP_TIMEOUT_S)
                return
            except (pykka.ActorDeadError, pykka.Timeout):
                pass
            except Exception as error:  # its handler raised (a database error, ...): try the database directly
                log.error("supervisor: the orchestrator could not halt the gate: %r", error)
        try:
            self._halt_in_database(reason)
        except Exception as error:
            log.critical("supervisor: the gate could not be halted (%r); the service stops all the same", error)

    def _halt_in_database(self, reason: str) -> None:
        """No orchestrator owns the gate now: halt it straight in the database."""
        store = Store(self.ctx.engine)
        try:
            machine = gate_machine()
            gate, _ = store.load_gate(machine)
            if gate is not None and gate.state != GateState.HALTED:
                store.fire(machine, gate, "halt", reason=reason, at=self.ctx.clock.now_ms())
        finally:
            store.close()
