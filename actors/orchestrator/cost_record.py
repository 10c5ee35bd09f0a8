"""The costs each cycle saw, kept for `status` and the replay report (the `cost-metrics` row), and a log line
when a symbol goes over a cost cap or comes back within them.

The service writes the row as it changes; a replay keeps only its latest version and writes it with the policy
snapshots' batches and at the end (each version overwrites the last: only the latest is ever read)."""

from __future__ import annotations

import logging
from typing import Any

from actors.orchestrator.costs import cost_breaches
from config.sections import RiskSettings
from persistence import cost_metrics, records
from persistence.cost_metrics import CostMetrics, SymbolCosts
from persistence.store import Store

log = logging.getLogger("quantum_trader.orchestrator")


class CostRecord:
    def __init__(self, store: Store, risk: RiskSettings, *, durable: bool) -> None:
        self.store, self.risk, self.durable = store, risk, durable
        self.written: dict[str, Any] | None = None  # the row as last recorded (pending in a replay), but its time
        self.seen: tuple[SymbolCosts, ...] | None = None  # the costs of the last cycle: most cycles repeat them
        self.over_cap: dict[str, str] = {}  # the symbols over a cap as last written, with why
        self.pending: tuple[dict[str, Any], int] | None = None  # the row not written yet, and its time

    def update(self, costs: tuple[SymbolCosts, ...], now: int) -> None:
        """Rewrite the row when a figure (to a hundredth of a basis point) or a verdict changed. Measured and kept
        whatever the flags: whether the policy enforces the caps is the policy's business (and its note)."""
        if costs == self.seen:
            return
        self.seen = costs
        metrics = CostMetrics(
            at=now,
            max_spread_bps=self.risk.max_spread_bps,
            max_slippage_bps=self.risk.max_slippage_bps,
            symbols=costs,
            over_cap=cost_breaches(costs, self.risk),
        )
        value = cost_metrics.encode(metrics)
        unchanged = {**value, "at": None}
        if unchanged == self.written:
            return
        self.pending = value, now
        if self.durable:
            self.write()
        for symbol, why in metrics.over_cap.items():  # said once recorded: `status` shows what the log says
            if symbol not in self.over_cap:
                log.warning("%s is over its cost cap: %s", symbol, why)
        for symbol in sorted(self.over_cap.keys() - metrics.over_cap.keys()):
            log.info("%s is back within its cost caps", symbol)
        self.written, self.over_cap = unchanged, dict(metrics.over_cap)

    def write(self) -> None:
        """The row's latest version, unless it is written already."""
        if self.pending is None:
            return
        value, at = self.pending
        self.store.write(lambda c: records.save_state(c, cost_metrics.COST_METRICS, value, at))
        self.pending = None
