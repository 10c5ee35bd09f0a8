"""`quantum-trader recover`: reconcile the database with the exchange, or show the plan (--dry-run)."""

from __future__ import annotations

import threading
from typing import Annotated, Any

import typer

from actors.clock import WallClock
from actors.execution.loading import client_id_prefix, load_live_positions
from actors.execution.recovery import describe, gather, plan
from actors.system import TradingSystem
from config import ExchangeKind, Settings
from exchange.factory import make_exchange
from exchange.guarded import GuardedPort
from exchange.port import ExchangeError, ExchangePort, Fill
from persistence.db import make_engine, open_read_only
from persistence.store import Store
from service.cli_common import (
    AccountOption,
    ConfigOption,
    DbOption,
    clean_errors,
    command_settings,
    console,
    create_account_schema,
    errors,
    fail,
)
from service.lease import lease_for
from service.lock import AlreadyRunning
from state_machines import gate_machine, position_machine


def recover(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing, send nothing.")] = False,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Allow recovery on Binance (needs keys in the environment); with --dry-run it only reads the account.",
        ),
    ] = False,
    db: DbOption = None,
    config: ConfigOption = None,
    account: AccountOption = None,
) -> None:
    """Reconcile every open position and order with the exchange: the same code the service runs at start."""
    # The runner's module holds the Binance client and the notifiers: imported by the command that needs it.
    from service.live_guard import ServiceError, check_live_guard, describe_venue
    from service.runner import migrate

    with clean_errors():
        settings = command_settings(config, db, account)
        url = settings.database.url
    try:
        check_live_guard(settings, live=live, command="recover")  # before the database or the exchange is touched
    except ServiceError as error:
        fail(str(error))
    if settings.exchange.kind is ExchangeKind.BINANCE:
        mode = " --dry-run (read only)" if dry_run else ""
        errors.print(f"recover{mode}: {describe_venue(settings)}", soft_wrap=True)
    if dry_run:
        with clean_errors():
            try:
                lines = _plan(settings, url, live=live)
            except ExchangeError as error:  # its message never holds a key (the port scrubs them)
                fail(f"the exchange could not be read: {error}")
        for line in lines:
            console.print(line, soft_wrap=True)
        return
    create_account_schema(url, account)
    engine = make_engine(url)
    clock = WallClock()
    try:
        try:
            migrate(engine, url)
            lease = lease_for(settings, engine, clock)
            lease.take(standby=False, stopping=threading.Event())  # recovery sends orders: no other trader may run
        except ServiceError as error:
            fail(str(error))
        except AlreadyRunning as error:
            fail(f"{error}. The running service reconciled at its start; stop it to recover again")
        with lease:
            exchange = GuardedPort(_exchange(settings, engine, live=live), lease.ensure_held)
            system = TradingSystem(settings, clock, engine, exchange=exchange)
            try:
                system.start()  # the execution actor reconciles in its start, exactly as the service's does
                actions = system.recovery()
            finally:
                system.stop("recovery done")  # also closes a Binance port's stream; resting orders stay
    finally:
        engine.dispose()
    for line in describe(tuple(actions)):
        console.print(line, soft_wrap=True)


def _exchange(settings: Settings, engine: Any, *, live: bool, read_only: bool = False) -> ExchangePort:
    """The port the service would use; a failure to reach it is one clear line (exit 2)."""
    try:
        return make_exchange(settings, engine, live=live, read_only=read_only)
    except ExchangeError as error:
        engine.dispose()
        fail(f"cannot start the exchange: {error}")


def _plan(settings: Settings, url: str, *, live: bool) -> list[str]:
    engine = open_read_only(url)
    store = Store(engine)
    try:
        loaded = store.load(position_machine(), gate_machine())
        live_positions = load_live_positions(store.connection, loaded.positions)
        prefix = client_id_prefix(store.connection, settings.exchange)
    finally:
        store.close()
    exchange = _exchange(settings, engine, live=live, read_only=True)  # Binance: reads only, no stream
    try:
        lines = [f"{len(live_positions)} live position(s) in the database"]
        waiting = pending_event_summary(exchange)
        if waiting:
            lines.append(f"first, exchange events from while the service was down are applied: {waiting}")
        facts, exchange_facts = gather(live_positions.values(), exchange, prefix)
        lines += describe(plan(facts, exchange_facts, prefix, symbols=settings.symbols))
        lines += [f"mismatch: {m.describe()} (the service halts the gate)" for m in loaded.mismatches]
    finally:
        exchange.close()  # a Binance port's HTTP session
        engine.dispose()
    return lines


def pending_event_summary(exchange: ExchangePort) -> str:
    """e.g. '1 fill(s) (qt-sl-3fa2b1c4d5e6-0), 2 order update(s)'; empty when none wait."""
    events = exchange.pending_events()
    fills = [e.client_order_id for e in events if isinstance(e, Fill)]
    updates = sum(1 for e in events if not isinstance(e, Fill))
    parts = [f"{len(fills)} fill(s) ({', '.join(fills)})"] if fills else []
    if updates:
        parts.append(f"{updates} order update(s)")
    return ", ".join(parts)
