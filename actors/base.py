"""What every actor shares: its context, the registry of live actors, and supervision hooks.

pykka stops an actor whose `tell` handler raised (calling `on_failure`); a failure
in `on_start` stops it without `on_failure`. Both reach the supervisor here.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import pykka
from sqlalchemy import Engine

from actors.clock import Clock
from actors.messages import Step
from actors.pipeline import AFTER, FIRST
from actors.runtime import Ref
from config import Settings
from exchange.port import ExchangePort

log = logging.getLogger("quantum_trader.actors")


class Ready:
    """Asked of an actor after start: answered once `on_start` has finished."""


@dataclass(frozen=True, slots=True)
class Failure:
    actor: str
    phase: str  # "on_start" or "on_receive"
    error: BaseException


class Registry:
    """Name -> live actor's ref (actors/runtime.py). The supervisor swaps in a restarted actor; senders look up at
    send time."""

    def __init__(self) -> None:
        self._refs: dict[str, Ref] = {}
        self._lock = threading.Lock()

    def set(self, name: str, ref: Ref) -> None:
        with self._lock:
            self._refs[name] = ref

    def get(self, name: str) -> Ref | None:
        return self._refs.get(name)

    def tell(self, name: str, message: Any) -> None:
        ref = self._refs.get(name)
        if ref is None:
            raise LookupError(f"no actor named {name!r} is running")
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            # Dying or being restarted: the supervisor aborts the step this belonged to.
            log.warning("%s is not running; %s dropped", name, type(message).__name__)

    def names(self) -> list[str]:
        return list(self._refs)


FaultHook = Callable[[str, Any], None]


def _always_healthy() -> str:
    return ""


def _no_book() -> dict[str, float]:
    return {}


@dataclass(slots=True)
class ActorContext:
    """What every actor is given; it outlives any actor's restart."""

    settings: Settings
    clock: Clock
    engine: Engine
    registry: Registry
    failures: queue.SimpleQueue[Failure | None]  # None ends the supervisor
    step_done: queue.SimpleQueue[tuple[str, int]]
    exchange: ExchangePort  # a real exchange outlives any actor restart, so the paper one does too
    durable_steps: bool = False  # the service: each step's records durable as it goes (TradingSystem says which)
    # The market feed's health ("" or why it is dead or silent): with a live feed the runner sets it, and the
    # execution engine pauses trading while it is not "" (a stream watchdog, as for the user-data stream).
    feed_health: Callable[[], str] = _always_healthy
    # The market feed's best bid/ask spread of each symbol in bps: with the Binance feed the runner sets it (its
    # book-ticker stream); execution uses it for an exchange that does not simulate a spread of its own.
    book_spreads: Callable[[], Mapping[str, float]] = _no_book
    # An injection point for supervision tests: called with (actor name, message) before each message is
    # handled, it may raise to make that actor fail there.
    fault_hook: FaultHook | None = None


class SupervisedActor(pykka.ThreadingActor):
    """Base of every actor: reports failures; subclasses implement `start_up` and `handle`."""

    name = "actor"

    def __init__(self, context: ActorContext) -> None:
        super().__init__()
        self.ctx = context  # __init__ runs in the caller's thread: dependencies only

    def on_start(self) -> None:
        try:
            self.start_up()
        except BaseException as error:
            self.ctx.failures.put(Failure(self.name, "on_start", error))
            raise

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        log.error("%s failed: %r", self.name, exception_value, exc_info=exception_value)
        self.ctx.failures.put(Failure(self.name, "on_receive", exception_value or RuntimeError("unknown failure")))

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Ready):
            return True
        if self.ctx.fault_hook is not None:
            self.ctx.fault_hook(self.name, message)
        return self.handle(message)

    def on_stop(self) -> None:
        self.shut_down()

    def start_up(self) -> None:
        """Runs in the actor's own thread: open the database connection, reload state."""

    def shut_down(self) -> None:
        """Persist what must survive, close connections."""

    def handle(self, message: Any) -> Any:
        raise NotImplementedError

    def tell(self, name: str, message: Any) -> None:
        self.ctx.registry.tell(name, message)

    def start_step(self, step: Step) -> None:
        """Hand a new time step to the first stage of the pipeline (actors/pipeline.py)."""
        stage, name = FIRST
        self.ctx.registry.tell(name, step if step.stage is stage else step.at_stage(stage))

    def pass_on(self, step: Step, **changes: Any) -> None:
        """Hand the step, with this actor's part, to the next stage; after the last one the step is done."""
        route = AFTER[step.stage]
        if route is None:
            self.ctx.step_done.put(("done", step.at))
        else:
            stage, name = route
            self.ctx.registry.tell(name, step.at_stage(stage, changes))
