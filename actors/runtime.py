"""The two runtimes the same actors run on, chosen at wiring time (`TradingSystem(runtime=...)`).

- `ThreadRuntime`: pykka, a thread per actor; the service, where the exchange and the clock are real.
- `InlineRuntime`: one thread, deterministic. Every `tell` goes into one queue, and the driver delivers the
  queue's messages in send order to the actor each is addressed to, on its own thread, until none is left (the
  way a backtest engine runs the same actors as live trading). A replay uses it: on virtual time the actors take
  turns anyway (a step passes from stage to stage), so threads only cost hand-offs.

Both give the driver a `Ref` per actor with pykka's surface: `tell`, `ask`, `stop`, `is_alive`. An actor's
handler that raises stops that actor and reports the failure through `on_failure`, on both.
"""

from __future__ import annotations

import logging
import sys
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import pykka

log = logging.getLogger("quantum_trader.runtime")


class Ref(Protocol):
    """What the driver and the registry hold of a running actor (pykka's `ActorRef` is one)."""

    def tell(self, message: Any) -> None: ...

    def ask(self, message: Any, *, block: bool = ..., timeout: float | None = ...) -> Any: ...

    def stop(self, *, block: bool = ..., timeout: float | None = ...) -> Any: ...

    def is_alive(self) -> bool: ...


class Runtime(Protocol):
    threaded: bool

    def spawn(self, actor_class: type[pykka.Actor], *args: Any) -> Ref:
        """Start an actor of `actor_class` (its `on_start` has run, or is running, when this returns)."""
        ...

    def run(self) -> None:
        """Deliver what is queued (inline); nothing to do where every actor has a thread of its own."""
        ...


class ThreadRuntime:
    threaded = True

    def spawn(self, actor_class: type[pykka.Actor], *args: Any) -> Ref:
        return actor_class.start(*args)

    def run(self) -> None:
        pass


class InlineRuntime:
    """Single-thread and deterministic: messages are delivered in the order they were sent, by `run`."""

    threaded = False

    def __init__(self) -> None:
        self._queue: deque[tuple[InlineRef, Any]] = deque()
        # Queues (actor's ref, message): the deque's own `append`, as every `tell` of a step goes through it.
        self.post: Callable[[tuple[InlineRef, Any]], None] = self._queue.append

    def spawn(self, actor_class: type[pykka.Actor], *args: Any) -> Ref:
        ref = InlineRef(self, actor_class(*args))
        ref.start()
        return ref

    def run(self) -> None:
        queue = self._queue
        while queue:
            ref, message = queue.popleft()
            if not ref.alive:
                continue  # it died before this was handled; as with pykka, what was in its inbox dies with it
            try:
                ref.receive(message)
            except Exception:
                ref.fail()


class InlineRef:
    """An actor of the inline runtime. Its inbox is the runtime's one queue."""

    def __init__(self, runtime: InlineRuntime, actor: pykka.Actor) -> None:
        self._runtime = runtime
        self._post = runtime.post
        self.actor = actor
        self.receive = actor.on_receive  # what `run` delivers to; a raise in it is the actor's failure (`fail`)
        self.alive = False

    def start(self) -> None:
        self.alive = True
        try:
            self.actor.on_start()
        except Exception:
            self.alive = False  # as pykka does: a failed start stops the actor, without `on_failure`
            log.debug("%s failed to start", type(self.actor).__name__, exc_info=True)

    def fail(self) -> None:
        """pykka's way with a raise in a `tell` handler: the actor stops, then hears of it in `on_failure`. Called
        in the `except` that caught the raise (it reads `sys.exc_info`)."""
        self.alive = False
        info = sys.exc_info()
        try:
            self.actor.on_stop()
        except Exception:
            log.exception("%s failed while stopping", type(self.actor).__name__)
        self.actor.on_failure(*info)

    def tell(self, message: Any) -> None:
        if not self.alive:
            raise pykka.ActorDeadError(f"{type(self.actor).__name__} is not running")
        self._post((self, message))

    def ask(self, message: Any, *, block: bool = True, timeout: float | None = None) -> Any:
        """What was sent before is delivered first; then this, whose answer (or raise) is the caller's."""
        if not self.alive:
            raise pykka.ActorDeadError(f"{type(self.actor).__name__} is not running")
        self._runtime.run()
        if not self.alive:
            raise pykka.ActorDeadError(f"{type(self.actor).__name__} stopped before handling the message")
        return self.actor.on_receive(message)

    def stop(self, *, block: bool = True, timeout: float | None = None) -> None:
        """Graceful, as pykka's: what is queued is delivered first, then the actor stops."""
        if not self.alive:
            return
        self._runtime.run()
        if self.alive:
            self.alive = False
            self.actor.on_stop()

    def is_alive(self) -> bool:
        return self.alive
