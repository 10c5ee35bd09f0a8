"""The paper account is saved with execution's commits (the service): only when it changed, in the same
transaction as the first commit after the change, once for a quiet step and not at all for a step without a candle;
and a SIGKILL at any moment leaves the database and the account consistent. A kill is the database as it stands
between two commits: a copy taken as each transaction begins (during the steps that matter), then a start on it."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from actors.execution.recovery import Action
from actors.system import PAPER_STATE, TradingSystem
from exchange.paper.exchange import PaperExchange
from exchange.port import OrderType
from persistence import records
from persistence.db import make_engine
from tests.actors.harness import MINUTE, WIDE_STOPS, Harness

LIVE = ("open", "partially_closed", "closing")


@contextmanager
def kill_points(engine: Engine, database: Path, folder: Path) -> Iterator[list[Path]]:
    """Every distinct state of the database file between two commits while the block runs (and at its end)."""
    folder.mkdir()
    found: list[Path] = []
    seen: set[str] = set()

    def copy(*_: Any) -> None:
        target = folder / f"{len(found)}.db"
        source, copied = sqlite3.connect(database), sqlite3.connect(target)
        try:
            source.backup(copied)
        finally:
            source.close(), copied.close()
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        if digest in seen:
            target.unlink()
        else:
            seen.add(digest)
            found.append(target)

    event.listen(engine, "begin", copy)
    try:
        yield found
    finally:
        event.remove(engine, "begin", copy)
    copy()


def saved_account(database: Path) -> PaperExchange:
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            return PaperExchange.from_state(records.load_exchange_state(connection, PAPER_STATE))
    finally:
        engine.dispose()


def positions(database: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT symbol, state, filled_quantity FROM positions").fetchall()


def restart_on(h: Harness, database: Path) -> tuple[tuple[Action, ...], PaperExchange, list[tuple[str, str, str]]]:
    """A start on the database as a kill left it: the recovery plan it applied, the account after it, the positions."""
    url = f"sqlite:///{database}"
    settings = h.settings.model_copy(update={"database": h.settings.database.model_copy(update={"url": url})})
    engine = make_engine(url)
    system = TradingSystem(settings, h.clock, engine)
    system.start()
    try:
        actions = system.recovery()
        exchange = system.ctx.exchange
        assert isinstance(exchange, PaperExchange)
    finally:
        system.stop("test done")
        engine.dispose()
    return actions, exchange, positions(database)


def assert_consistent(h: Harness, database: Path) -> tuple[Action, ...]:
    """After the restart the exchange holds exactly what the database calls live, each protected by a stop covering
    all of it; nothing had to be closed, adopted or halted for it."""
    actions, exchange, rows = restart_on(h, database)
    assert not [a for a in actions if a.kind in ("close", "adopt", "halt")], (database.name, actions)
    held = {p.symbol: abs(p.quantity) for p in exchange.positions()}
    assert held == {symbol: Decimal(filled) for symbol, state, filled in rows if state in LIVE}, database.name
    for symbol, quantity in held.items():
        stops = [o.quantity for o in exchange.open_orders(symbol) if o.type is OrderType.STOP_MARKET]
        assert stops == [quantity], (database.name, stops)
    return actions


def test_kill_at_any_moment_after_the_entry_was_placed_leaves_database_and_account_consistent(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, exit_modes=WIDE_STOPS)
    try:
        h.calm(160)
        h.signal("BTCUSDT", "LONG", 0.8)
        with kill_points(h.engine, tmp_path / "trader.db", tmp_path / "kills") as kills:
            h.until(lambda: bool(h.positions()), limit=3)  # the step that writes the intent and sends the entry
        assert h.positions()[0][1] == "entry_submitted"
        placed = [k for k in kills if positions(k) and positions(k)[0][1] == "entry_submitted"]
        written_ahead = [k for k in kills if positions(k) and positions(k)[0][1] == "pending_entry"]
        assert placed and written_ahead
        # The entry's transition and the account holding the entry order are one commit: a restart finds the order.
        for kill in placed:
            assert len(saved_account(kill).open_orders("BTCUSDT")) == 1
            assert [a.kind for a in assert_consistent(h, kill)] == ["confirm"]
        # Killed between the write-ahead and that commit: the order is lost with it, and written off at the restart.
        for kill in written_ahead:
            assert saved_account(kill).open_orders("BTCUSDT") == ()
            assert [a.kind for a in assert_consistent(h, kill)] == ["cancel_entry"]
    finally:
        h.stop()


def test_kill_at_any_moment_after_the_entry_matched_leaves_database_and_account_consistent(tmp_path: Path) -> None:
    h = Harness(tmp_path, exit_modes=WIDE_STOPS)
    try:
        h.calm(160)
        h.signal("BTCUSDT", "LONG", 0.8)
        h.until(lambda: bool(h.positions()), limit=3)
        with kill_points(h.engine, tmp_path / "trader.db", tmp_path / "kills") as kills:
            h.step()  # the step whose candle fills the entry: the position opens and is protected
        assert h.positions()[0][1] == "open"
        opened = [k for k in kills if positions(k)[0][1] == "open"]
        # Killed after the fill's commit but before the protective orders were sent: the account holds the position
        # (saved with that commit), and the restart places the stop and the take-profits.
        unprotected = [k for k in opened if not saved_account(k).open_orders("BTCUSDT")]
        assert unprotected and len(opened) > len(unprotected)
        for kill in unprotected:
            assert saved_account(kill).positions()
            assert [(a.kind, a.purposes) for a in assert_consistent(h, kill)] == [("reprotect", ("pt", "sl", "tp"))]
        for kill in kills:
            assert_consistent(h, kill)
    finally:
        h.stop()


@contextmanager
def account_saves(engine: Engine) -> Iterator[list[list[str]]]:
    """The statements of each transaction that saved the paper account, while the block runs."""
    transactions: dict[int, list[str]] = {}
    saves: list[list[str]] = []

    def begin(connection: Any) -> None:
        transactions[id(connection)] = []

    def statement(connection: Any, _cursor: Any, sql: str, *_: Any) -> None:
        transactions.setdefault(id(connection), []).append(sql.split("(")[0].strip())

    def commit(connection: Any) -> None:
        done = transactions.pop(id(connection), [])
        if any("exchange_state" in s for s in done):
            saves.append(done)

    listeners = (("begin", begin), ("before_cursor_execute", statement), ("commit", commit))
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield saves
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


def test_paper_account_is_saved_once_for_a_quiet_step_never_for_a_step_without_candles(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    try:
        h.calm(3)
        with account_saves(h.engine) as saves:
            h.step()
        assert len(saves) == 1  # its candle moved the prices
        with account_saves(h.engine) as saves:
            for _ in range(3):
                h.clock.advance_to(h.open_time + MINUTE // 2)
                h.system.tick(h.clock.now_ms())
        assert saves == []  # nothing changed
        updated = h.rows("SELECT updated_at FROM exchange_state")
        h.system.stop("a stop with nothing changed")
        assert h.rows("SELECT updated_at FROM exchange_state") == updated
        h.system = h._start()
    finally:
        h.stop()


def test_paper_account_is_saved_in_the_transaction_of_the_fill_that_changed_it(tmp_path: Path) -> None:
    h = Harness(tmp_path, exit_modes=WIDE_STOPS)
    try:
        h.calm(160)
        h.signal("BTCUSDT", "LONG", 0.8)
        h.until(lambda: bool(h.positions()), limit=3)
        with account_saves(h.engine) as saves:
            h.step()  # the entry fills, then its stop and take-profit are sent
        assert h.positions()[0][1] == "open"
        # The first save goes with the fill's transition; the next with the step's last commit, after the orders.
        assert len(saves) == 2
        assert any("INSERT INTO fills" in s for s in saves[0]) and any("INSERT INTO transitions" in s for s in saves[0])
        assert any("signal_decisions" in s or "UPDATE orders" in s for s in saves[1])
    finally:
        h.stop()


def test_stop_saves_the_account_where_commits_do_not(tmp_path: Path) -> None:
    h = Harness(tmp_path, durable_steps=False)  # a replay's way: the account is saved at stop only
    try:
        with account_saves(h.engine) as saves:
            h.calm(3)
        assert saves == []
        h.system.stop("stop")
        with h.engine.connect() as connection:
            saved = records.load_exchange_state(connection, PAPER_STATE)
        assert saved is not None and PaperExchange.from_state(saved).last_price("BTCUSDT") == Decimal(
            str(h.prices["BTCUSDT"])
        )
        h.system = h._start()
    finally:
        h.stop()
