"""Waiting for the service: start-up done, policy cycles completed, a pushed candle step handled."""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal

from scripts.crash.database import Database
from scripts.crash.process import Service
from scripts.crash.scenario import STEP_TIMEOUT_S


def wait_ready(service: Service, recovery_actions: Counter[str]) -> bool:
    """The start-up (recovery included) and the warm-up are over; False if the process ended first.
    Counts the recovery's actions into `recovery_actions`."""
    index = service.wait_for("live klines from the market stream")
    if index is None:
        return False
    text = service.text()
    for line in text.splitlines():
        if "quantum_trader.execution: recovery: " in line:
            kind = line.split("recovery: ", 1)[1].split(" ", 1)[0]
            recovery_actions[kind] += 1
    return True


def wait_cycles(service: Service, db: Database, cycles: int = 2) -> bool:
    """Until the service has completed `cycles` policy cycles begun after now (its heartbeat moved on); False if it
    was killed or ended first. With no candle pushed meanwhile these are its timer's ticks, the steps that read
    the signal inbox (a candle step of the test's past candles is too far behind the clock for that)."""
    start = int(time.time() * 1000)
    beats = 0
    last = None
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        if service.done or service.killed:
            return False
        beat = db.heartbeat()
        if beat is not None and beat[0] > start and beat[0] != last:
            last, beats = beat[0], beats + 1
            if beats >= cycles:
                return True
        time.sleep(0.02)
    raise TimeoutError("the service's heartbeat did not move")


def wait_step(service: Service, db: Database, closes: dict[str, Decimal]) -> bool:
    """Until the service has finished the step of these closes (its heartbeat names them); False if it died."""
    want = {s: str(c) for s, c in closes.items()}
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        if service.done or service.killed:
            return False
        beat = db.heartbeat()
        if beat is not None and all(_same(beat[1].get(s), c) for s, c in closes.items()):
            return True
        time.sleep(0.01)
    raise TimeoutError(f"the service did not finish the step of {want}")


def _same(text: str | None, value: Decimal) -> bool:
    try:
        return text is not None and Decimal(text) == value
    except ArithmeticError:
        return False
