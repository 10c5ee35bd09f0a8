"""`quantum-trader recover`: reconcile the database with the exchange, or show the plan (--dry-run)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from actors.clock import WallClock
from actors.execution.loading import load_live_positions
from actors.execution.port import Fill
from actors.execution.recovery import describe, gather, plan
from actors.system import TradingSystem, make_exchange
from persistence.db import make_engine, open_read_only
from persistence.migrate import upgrade
from persistence.store import Store
from service.cli_common import ConfigOption, DbOption, clean_errors, console, database_url, fail, settings_from
from service.lock import AlreadyRunning, InstanceLock
from state_machines import gate_machine, position_machine


def recover(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing, send nothing.")] = False,
    db: DbOption = None, config: ConfigOption = None,
) -> None:
    """Reconcile every open position and order with the exchange: the same code the service runs at start."""
    with clean_errors():
        settings = settings_from(config)
        url = database_url(db, config)
        if db is not None:
            settings = settings.model_copy(update={"database": settings.database.model_copy(update={"url": url})})
        if dry_run:
            for line in _plan(settings, url):
                console.print(line, soft_wrap=True)
            return
    lock = InstanceLock(url)
    try:
        lock.acquire()
    except AlreadyRunning as error:
        fail(f"{error}: the running service reconciled at its start; stop it to recover again")
    try:
        engine = make_engine(url)
        upgrade(engine)
        system = TradingSystem(settings, WallClock(), engine)
        system.start()
        actions = system.ctx.extras.get("recovery", ())
        system.stop("recovery done")
        engine.dispose()
    finally:
        lock.release()
    for line in describe(tuple(actions)):
        console.print(line, soft_wrap=True)


def _plan(settings: Any, url: str) -> list[str]:
    engine = open_read_only(url)
    store = Store(engine)
    try:
        loaded = store.load(position_machine(), gate_machine())
        live = load_live_positions(store.connection, loaded.positions)
    finally:
        store.close()
    exchange = make_exchange(settings, engine)
    lines = [f"{len(live)} live position(s) in the database"]
    waiting = pending_event_summary(exchange)
    if waiting:
        lines.append(f"first, exchange events from while the service was down are applied: {waiting}")
    facts, exchange_facts = gather(live.values(), exchange, settings.exchange.client_id_prefix)
    lines += describe(plan(facts, exchange_facts, settings.exchange.client_id_prefix))
    lines += [f"mismatch: {m.describe()} (the service halts the gate)" for m in loaded.mismatches]
    engine.dispose()
    return lines


def pending_event_summary(exchange: Any) -> str:
    """e.g. '1 fill(s) (qt-sl-3fa2b1c4d5e6-0), 2 order update(s)'; empty when none wait."""
    peek = getattr(exchange, "pending_events", None)
    events = peek() if peek is not None else ()
    fills = [e.client_order_id for e in events if isinstance(e, Fill)]
    updates = sum(1 for e in events if not isinstance(e, Fill))
    parts = [f"{len(fills)} fill(s) ({', '.join(fills)})"] if fills else []
    if updates:
        parts.append(f"{updates} order update(s)")
    return ", ".join(parts)
