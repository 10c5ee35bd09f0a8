"""Prometheus metrics: the trading state read from the database at each scrape, beside the running service's own
timings (service/probe.py), as it last sent them over the link. Every name starts with `quantum_trader_`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, Numeric, and_, cast, exists, func, select

from actors.execution.ids import Purpose
from exchange.port import OrderStatus
from persistence.tables import EQUITY_SNAPSHOTS, ORDERS, POSITIONS
from service import history
from service.http.link import ServiceFigures, ServiceLink
from service.status import status_report
from state_machines import GateState, PositionState

P = "quantum_trader_"
HELD = (str(PositionState.OPEN), str(PositionState.PARTIALLY_CLOSED))  # filled, so needing a stop
RESTING = (str(OrderStatus.NEW), str(OrderStatus.PARTIALLY_FILLED))


class DatabaseCollector(Collector):
    def __init__(self, engine: Engine, running: Callable[[], bool], service: ServiceLink | None) -> None:
        self.engine, self.running, self.service = engine, running, service

    def collect(self) -> Iterator[Metric]:
        report = status_report(self.engine, running=self.running(), strategies=False)
        yield from _service(report)
        yield from _positions(report)
        yield from self._database_totals()
        figures = self.service.figures() if self.service is not None else None
        if figures is not None:  # None: served read-only, or the service sent nothing lately
            yield from figures.metrics
            yield from _streams(figures)

    def _database_totals(self) -> Iterator[Metric]:
        with self.engine.connect() as connection:
            equity = connection.execute(
                select(EQUITY_SNAPSHOTS.c.equity).order_by(EQUITY_SNAPSHOTS.c.id.desc()).limit(1)
            ).scalar()
            realized = connection.execute(select(func.sum(cast(POSITIONS.c.realized_pnl, Numeric)))).scalar()
            by_status = connection.execute(select(ORDERS.c.status, func.count()).group_by(ORDERS.c.status)).all()
            by_code = connection.execute(
                select(ORDERS.c.reject_code, func.count())
                .where(ORDERS.c.reject_code.is_not(None))
                .group_by(ORDERS.c.reject_code)
            ).all()
            unprotected = connection.execute(_unprotected()).scalar_one()
        yield _gauge("equity_usd", "Account equity at the last snapshot", None if equity is None else float(equity))
        yield _gauge("realized_pnl_usd", "Realised PnL of every position", float(realized or 0))
        yield _gauge("unprotected_positions", "Held positions without a stop price or resting stop order", unprotected)
        decisions = CounterMetricFamily(P + "decisions", "Signal decisions by reason", labels=["reason"])
        for reason, count in sorted(history.reason_totals(self.engine).items()):
            decisions.add_metric([reason], count)
        yield decisions
        orders = CounterMetricFamily(P + "orders", "Orders by their last known status", labels=["status"])
        for status, count in sorted(by_status):
            orders.add_metric([str(status)], count)
        yield orders
        errors = CounterMetricFamily(P + "exchange_errors", "Orders refused by the exchange", labels=["code"])
        for code, count in sorted(by_code):
            errors.add_metric([str(code)], count)
        yield errors


def _unprotected() -> Any:
    resting_stop = exists().where(
        and_(ORDERS.c.position_id == POSITIONS.c.id, ORDERS.c.purpose == Purpose.STOP, ORDERS.c.status.in_(RESTING))
    )
    return (
        select(func.count())
        .select_from(POSITIONS)
        .where(POSITIONS.c.state.in_(HELD), (POSITIONS.c.stop_price.is_(None)) | ~resting_stop)
    )


def _gauge(name: str, documentation: str, value: float | None, **labels: str) -> GaugeMetricFamily:
    family = GaugeMetricFamily(P + name, documentation, labels=list(labels))
    if value is not None:
        family.add_metric(list(labels.values()), value)
    return family


def _service(report: dict[str, Any]) -> Iterator[Metric]:
    service = report["service"]
    yield _gauge("running", "1 while a service holds the database's instance lock", float(service["running"]))
    yield _gauge("heartbeat_age_seconds", "Seconds since the service's last heartbeat", service["heartbeat_age_s"])
    gate = report["gate"] or {}
    states = GaugeMetricFamily(P + "gate_state", "1 for the trading gate's current state", labels=["state"])
    for state in GateState:
        states.add_metric([str(state)], float(gate.get("state") == str(state)))
    yield states
    lease = report["lease"]
    owner = GaugeMetricFamily(P + "lease_owner", "The process that holds the account's lease", labels=["host", "pid"])
    if lease:
        owner.add_metric([lease["owner"]["host"], str(lease["owner"]["pid"])], 1.0)
    yield owner
    yield _gauge("lease_token", "The lease's fencing token", lease["token"] if lease else None)
    yield _gauge("lease_age_seconds", "Seconds since the lease was last renewed", lease["age_s"] if lease else None)


def _positions(report: dict[str, Any]) -> Iterator[Metric]:
    rows = report["positions"]
    yield _gauge("open_positions", "Positions that are not final", float(len(rows)))
    risk = notional = unrealized = Decimal(0)
    for row in rows:
        quantity = Decimal(row["open_quantity"])
        if row["entry_price"] is not None:
            notional += quantity * Decimal(row["entry_price"])
            if row["stop_price"] is not None:  # exposure is open risk: what the position loses if its stop fills
                risk += quantity * abs(Decimal(row["entry_price"]) - Decimal(row["stop_price"]))
        unrealized += Decimal(row["unrealized_pnl"] or 0)
    yield _gauge("open_risk_usd", "What the open positions lose if every stop fills (exposure)", float(risk))
    yield _gauge("open_notional_usd", "Gross notional of the open positions at entry", float(notional))
    yield _gauge("unrealized_pnl_usd", "Unrealised PnL of the open positions at the last price", float(unrealized))


def _streams(figures: ServiceFigures) -> Iterator[Metric]:
    healthy = GaugeMetricFamily(P + "stream_healthy", "1 while a stream is healthy", labels=["stream"])
    for stream, problem in sorted(figures.health.items()):
        healthy.add_metric([stream], float(not problem))
    yield healthy
    yield _gauge("last_event_age_seconds", "Seconds since the last candle batch arrived", figures.last_event_age_s)
