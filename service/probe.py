"""In-process timings of the running service for /metrics: each step's duration, and tick-to-order (a candle
batch handed to the actors until the entry order it led to is sent), plus when the last candle arrived.

The runner wraps its `system.step` calls in `Probe.step()`; `TimedPort` (the lease-guarded exchange port the actors
are given) tells the probe when an entry order leaves. Steps run one at a time, so an entry sent during a step
belongs to that step's candles.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Histogram

from actors.execution.ids import Purpose
from exchange.guarded import GuardedPort
from exchange.port import ExchangePort, OrderRequest, OrderState

# Seconds: a step on SQLite with synchronous=FULL takes a few milliseconds; a slow disk or a backlog much longer.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Probe:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.step_seconds = Histogram(
            "quantum_trader_step_seconds",
            "Time to take one batch of closed candles through every actor",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.tick_to_order_seconds = Histogram(
            "quantum_trader_tick_to_order_seconds",
            "From a candle batch handed to the actors to the entry order it led to being sent",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._step_started: float | None = None
        self.last_event_at: float | None = None  # time.monotonic() of the last candle batch
        self.health: Callable[[], dict[str, str]] = dict  # stream -> "" when healthy, else why not

    @contextmanager
    def step(self) -> Iterator[None]:
        started = time.perf_counter()
        self._step_started = started
        self.last_event_at = time.monotonic()
        try:
            yield
        finally:
            self._step_started = None
            self.step_seconds.observe(time.perf_counter() - started)

    def entry_sent(self) -> None:
        started = self._step_started
        if started is not None:  # an entry sent outside a step (a retry at start) has no candle to time from
            self.tick_to_order_seconds.observe(time.perf_counter() - started)

    def last_event_age_s(self) -> float | None:
        return None if self.last_event_at is None else time.monotonic() - self.last_event_at


class TimedPort(GuardedPort):
    """The lease-guarded port, telling the probe when an entry order has been sent."""

    def __init__(self, port: ExchangePort, may_act: Callable[[], None], probe: Probe) -> None:
        super().__init__(port, may_act)
        self.probe = probe

    def place_order(self, request: OrderRequest) -> OrderState:
        state = super().place_order(request)
        if request.client_order_id.split("-")[1:2] == [Purpose.ENTRY]:  # ids are prefix-purpose-position-number
            self.probe.entry_sent()
        return state
