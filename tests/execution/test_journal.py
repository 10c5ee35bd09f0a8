"""The execution journal's order-state rows: a state that waits for the same commit as an earlier one of its order
(its send's, or an earlier state's) writes the row alone, and the row ends as it would with every write made."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, text

from actors.clock import VirtualClock
from actors.execution.checkpoint import ExchangeCheckpoint
from actors.execution.journal import Journal, order_state_row, sent
from config.sections import PaperSettings
from exchange.paper.exchange import PaperExchange
from exchange.port import OrderRequest, OrderSide, OrderState, OrderStatus, OrderType
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import Store
from state_machines import position_machine

PURPOSES = ("sl", "tp", "pt")
positions = itertools.count(1)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('journal') / 'trader.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def journal_on(engine: Engine) -> tuple[Journal, str]:
    """A journal, and a new position with an order row for each of `PURPOSES` (written ahead, PENDING)."""
    pid = f"p{next(positions)}"
    clock = VirtualClock(1_000)
    exchange = PaperExchange.from_settings(PaperSettings())  # type: ignore[arg-type]
    checkpoint = ExchangeCheckpoint(exchange, clock, with_commits=False)
    journal = Journal(Store(engine), position_machine(), clock, checkpoint, durable_steps=False)
    values: dict[str, Any] = dict(
        id=pid,
        symbol="BTCUSDT",
        side="LONG",
        client_order_id=f"qt-e-{pid}-0",
        quantity=Decimal("0.010"),
        filled_quantity=Decimal(0),
        realized_pnl=Decimal(0),
        fees=Decimal(0),
        exit_mode="static",
        details="{}",
    )
    journal.create(values, reason="test", payload={})
    for purpose in PURPOSES:
        journal.defer(journal.order_row(pid, purpose, request(client_id(pid, purpose))))
    journal.flush()
    return journal, pid


def client_id(pid: str, purpose: str) -> str:
    return f"qt-{purpose}-{pid}-0"


def request(client_id: str) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_id,
        symbol="BTCUSDT",
        side=OrderSide.SELL,
        type=OrderType.STOP_MARKET,
        quantity=Decimal("0.010"),
        trigger_price=Decimal("19000"),
        reduce_only=True,
    )


def state(pid: str, purpose: str, status: OrderStatus, at: int) -> OrderState:
    filled = status is OrderStatus.FILLED
    return OrderState(
        client_order_id=client_id(pid, purpose),
        exchange_order_id=PURPOSES.index(purpose) + 7,
        symbol="BTCUSDT",
        side=OrderSide.SELL,
        type=OrderType.STOP_MARKET,
        quantity=Decimal("0.010"),
        trigger_price=Decimal("19000"),
        reduce_only=True,
        status=status,
        filled_qty=Decimal("0.010") if filled else Decimal(0),
        avg_price=Decimal("18990.5") if filled else None,
        updated_at=at,
    )


def order_rows(engine: Engine, pid: str) -> list[tuple[Any, ...]]:
    """The position's order rows, but for their ids (each example has a position of its own)."""
    columns = "purpose, exchange_order_id, status, filled_quantity, average_price, reject_code, created_at, updated_at"
    with engine.connect() as connection:
        query = text(f"SELECT {columns} FROM orders WHERE position_id = :p ORDER BY id")
        return [tuple(row) for row in connection.execute(query, {"p": pid})]


Event = tuple[bool, int, OrderStatus]  # (a send, else a state), which order, its status


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.sampled_from(PURPOSES),
            st.sampled_from((OrderStatus.NEW, OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED)),
        ),
        max_size=8,
    ),
    st.sets(st.integers(min_value=0, max_value=8), max_size=3),
)
def test_journal_order_states_end_each_row_as_every_write_made_in_turn_would(
    database: Engine, events: list[tuple[bool, str, OrderStatus]], commits_after: set[int]
) -> None:
    """(a send, else a state; of which order; its status), and after which of them a commit of the step's own."""
    plain, plain_pid = journal_on(database)  # every write made in turn, with the same commits
    journal, pid = journal_on(database)
    for index, (is_send, purpose, status) in enumerate(events):
        plain_state, order = (
            state(plain_pid, purpose, status, 2_000 + index),
            state(pid, purpose, status, 2_000 + index),
        )
        plain.defer(sent(plain_state) if is_send else order_state_row(plain_state))
        (journal.record_sent if is_send else journal.record_order_state)(order)
        if index in commits_after:
            plain.flush()
            journal.defer()  # a write that must be durable by the step's end: the records join it
            journal.flush()
    plain.flush(at_stop=True)
    journal.flush(at_stop=True)
    assert order_rows(database, pid) == order_rows(database, plain_pid)


def test_journal_a_send_and_the_orders_end_in_one_commit_write_its_row_once(database: Engine) -> None:
    journal, pid = journal_on(database)
    updates: list[str] = []

    def seen(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("UPDATE orders"):
            updates.append(statement)

    event.listen(database, "before_cursor_execute", seen)
    try:
        journal.record_sent(state(pid, "sl", OrderStatus.NEW, 2_000))
        journal.record_sent(state(pid, "tp", OrderStatus.NEW, 2_000))
        journal.flush()
        assert updates == []  # a replay's sends wait for a commit of the step's own (or stop)
        journal.record_order_state(state(pid, "sl", OrderStatus.FILLED, 3_000))
        journal.flush(at_stop=True)
    finally:
        event.remove(database, "before_cursor_execute", seen)
    assert len(updates) == 2  # the stop's end stands for its send; the take-profit's send is written
    assert [row[:3] for row in order_rows(database, pid)] == [
        ("sl", "7", "FILLED"),
        ("tp", "8", "NEW"),
        ("pt", None, "PENDING"),
    ]
