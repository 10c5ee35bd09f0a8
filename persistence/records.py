"""Plain writes beside the state machines: orders, fills, decisions, snapshots, heartbeat, commands.

Each function takes a Connection inside the caller's transaction, so a caller can
put it in the same transaction as a state change (`Store.fire(..., also=...)`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Select, bindparam, insert, select, update

from config.profiles import ExitMode
from persistence.snapshot_text import policy_text, snapshot_text
from persistence.tables import (
    EQUITY_SNAPSHOTS,
    EXCHANGE_STATE,
    FILLS,
    HEARTBEAT,
    OPERATOR_COMMANDS,
    ORDERS,
    POLICY_SNAPSHOTS,
    POSITIONS,
    SERVICE_STATE,
    SIGNAL_DECISIONS,
)

HEARTBEAT_ID = "service"
# OBSERVE mode's would-be decision: recorded beside the decision that was enforced, never in its place.
OBSERVED = "OBSERVED"

# Built once, executed with parameters: the compiled-statement cache is hit on every call.
INSERT_ORDER = insert(ORDERS)
UPDATE_ORDER = update(ORDERS).where(ORDERS.c.client_order_id == bindparam("b_client_order_id"))
INSERT_FILL = insert(FILLS).values(
    order_id=select(ORDERS.c.id).where(ORDERS.c.client_order_id == bindparam("b_client_order_id")).scalar_subquery()
)
INSERT_DECISION = insert(SIGNAL_DECISIONS)
UPDATE_POSITION_NUMBERS = update(POSITIONS).where(POSITIONS.c.id == bindparam("b_id"))
INSERT_EQUITY = insert(EQUITY_SNAPSHOTS)
INSERT_POLICY_SNAPSHOT = insert(POLICY_SNAPSHOTS)
INSERT_STATE = insert(SERVICE_STATE)
UPDATE_STATE = update(SERVICE_STATE).where(SERVICE_STATE.c.name == bindparam("b_name"))

STATE_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def insert_order(connection: Connection, **values: Any) -> None:
    connection.execute(
        INSERT_ORDER,
        {
            "filled_quantity": Decimal(0),
            "average_price": None,
            "reject_code": None,
            "reject_message": None,
            "exchange_order_id": None,
            **values,
        },
    )


def update_order(connection: Connection, client_order_id: str, **values: Any) -> None:
    connection.execute(UPDATE_ORDER, {**values, "b_client_order_id": client_order_id})


def insert_fill(
    connection: Connection,
    *,
    client_order_id: str,
    trade_id: str,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal,
    realized_pnl: Decimal,
    at: int,
    fee_asset: str = "USDT",
) -> None:
    connection.execute(
        INSERT_FILL,
        {
            "b_client_order_id": client_order_id,
            "trade_id": trade_id,
            "quantity": quantity,
            "price": price,
            "fee": fee,
            "fee_asset": fee_asset,
            "realized_pnl": realized_pnl,
            "at": at,
        },
    )


def update_position_numbers(
    connection: Connection,
    position_id: str,
    *,
    filled_quantity: Decimal,
    realized_pnl: Decimal,
    fees: Decimal,
    stop_price: Decimal | None,
    details: str,
) -> None:
    """A live position's figures that change without a transition (a further fill, a moved stop, an order number)."""
    connection.execute(
        UPDATE_POSITION_NUMBERS,
        {
            "b_id": position_id,
            "filled_quantity": filled_quantity,
            "realized_pnl": realized_pnl,
            "fees": fees,
            "stop_price": stop_price,
            "details": details,
        },
    )


def insert_decisions(connection: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    rows = list(rows)
    if rows:
        connection.execute(INSERT_DECISION, rows)


_IN_CHUNK = 500  # bound parameters per IN (...): well under every backend's limit


# Built once: an expanding IN parameter keeps one statement (and its compiled form) for any number of ids. One id,
# the usual case (a step's one signal), takes a plain equality: half the time, without the IN list's rendering.
_DECISIONS = select(SIGNAL_DECISIONS.c.signal_id, SIGNAL_DECISIONS.c.reason).where(
    SIGNAL_DECISIONS.c.reason != OBSERVED
)
_DECISIONS_OF = _DECISIONS.where(SIGNAL_DECISIONS.c.signal_id.in_(bindparam("ids", expanding=True))).order_by(
    SIGNAL_DECISIONS.c.id
)
_DECISIONS_OF_ONE = _DECISIONS.where(SIGNAL_DECISIONS.c.signal_id == bindparam("id")).order_by(SIGNAL_DECISIONS.c.id)
_STATES = select(POSITIONS.c.id, POSITIONS.c.state)
_STATES_OF = _STATES.where(POSITIONS.c.id.in_(bindparam("ids", expanding=True)))
_STATES_OF_ONE = _STATES.where(POSITIONS.c.id == bindparam("id"))


def signal_decisions_of(connection: Connection, signal_ids: Iterable[str]) -> dict[str, str]:
    """The recorded decision's reason of each of these signal ids that has one (the first, should there be more).

    An OBSERVED row alone is no decision: it is written before the enforced one, in a transaction of its own, so a
    signal that has only it lost its step before being decided and must be judged again."""
    found: dict[str, str] = {}
    for rows in _by_ids(connection, signal_ids, _DECISIONS_OF, _DECISIONS_OF_ONE):
        for signal_id, reason in rows:
            found.setdefault(signal_id, reason)
    return found


def position_states_of(connection: Connection, position_ids: Iterable[str]) -> dict[str, str]:
    """The state of each of these positions that exists."""
    found: dict[str, str] = {}
    for rows in _by_ids(connection, position_ids, _STATES_OF, _STATES_OF_ONE):
        found.update((position_id, state) for position_id, state in rows)
    return found


def _by_ids(connection: Connection, ids: Iterable[str], of_many: Select[Any], of_one: Select[Any]) -> Iterator[Any]:
    """The results of `of_many` for the ids in chunks (`of_one` for a single id), in id order."""
    wanted = sorted(set(ids))
    if len(wanted) == 1:
        yield connection.execute(of_one, {"id": wanted[0]})
        return
    for start in range(0, len(wanted), _IN_CHUNK):
        yield connection.execute(of_many, {"ids": wanted[start : start + _IN_CHUNK]})


def insert_policy_snapshot(
    connection: Connection, *, at: int, enforced: bool, policy: object, inputs: object, note: str
) -> None:
    """`policy` and `inputs`: mappings, or the (frozen) dataclasses themselves, recorded as their fields."""
    insert_policy_snapshots(connection, [dict(at=at, enforced=enforced, policy=policy, inputs=inputs, note=note)])


def insert_policy_snapshots(connection: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Several in one statement, each given as `insert_policy_snapshot`'s keyword arguments."""
    connection.execute(
        INSERT_POLICY_SNAPSHOT,
        [
            {
                "at": row["at"],
                "enforced": row["enforced"],
                # A policy's tuples are new with each one: encoded whole, it costs less than field by field.
                "policy": policy_text(row["policy"]),
                "inputs": snapshot_text(row["inputs"]),
                "note": row["note"],
            }
            for row in rows
        ],
    )


def latest_policy_exit_mode(connection: Connection) -> ExitMode | None:
    """The exit mode of the last policy recorded (None before the first): the one in force at a start, until the
    orchestrator's first cycle says otherwise."""
    raw = connection.execute(
        select(POLICY_SNAPSHOTS.c.policy).order_by(POLICY_SNAPSHOTS.c.at.desc(), POLICY_SNAPSHOTS.c.id.desc()).limit(1)
    ).scalar()
    if raw is None:
        return None
    mode = json.loads(raw).get("exit_mode")
    return ExitMode(mode) if mode in set(ExitMode) else None


def insert_equity_snapshot(
    connection: Connection,
    *,
    at: int,
    equity: Decimal,
    wallet: Decimal,
    unrealized_pnl: Decimal,
    day_start_equity: Decimal,
    daily_drawdown_pct: float,
) -> None:
    connection.execute(
        INSERT_EQUITY,
        {
            "at": at,
            "equity": equity,
            "wallet": wallet,
            "unrealized_pnl": unrealized_pnl,
            "day_start_equity": day_start_equity,
            "daily_drawdown_pct": daily_drawdown_pct,
        },
    )


PAPER_EXCHANGE_STATE = "paper"  # the paper account's row in exchange_state


def save_exchange_state(connection: Connection, name: str, state: Mapping[str, Any], at: int) -> None:
    text = json.dumps(state, sort_keys=True, separators=(",", ":"))
    if connection.execute(select(EXCHANGE_STATE.c.name).where(EXCHANGE_STATE.c.name == name)).first() is None:
        connection.execute(insert(EXCHANGE_STATE).values(name=name, state=text, updated_at=at))
    else:
        connection.execute(
            update(EXCHANGE_STATE).where(EXCHANGE_STATE.c.name == name).values(state=text, updated_at=at)
        )


def load_exchange_state(connection: Connection, name: str) -> dict[str, Any] | None:
    text = connection.execute(select(EXCHANGE_STATE.c.state).where(EXCHANGE_STATE.c.name == name)).scalar()
    return None if text is None else json.loads(text)


def save_state(connection: Connection, name: str, value: Any, at: int) -> None:
    """Keep one named piece of the service's state (JSON), in the caller's transaction."""
    text = STATE_JSON.encode(value)
    if connection.execute(UPDATE_STATE, {"b_name": name, "value": text, "updated_at": at}).rowcount == 0:
        connection.execute(INSERT_STATE, {"name": name, "value": text, "updated_at": at})


def load_state(connection: Connection, name: str) -> Any:
    """A named piece of the service's state, or None when it was never saved."""
    text = connection.execute(select(SERVICE_STATE.c.value).where(SERVICE_STATE.c.name == name)).scalar()
    return None if text is None else json.loads(text)


def beat(
    connection: Connection, *, pid: int, started_at: int, at: int, version: str, prices: Mapping[str, object]
) -> None:
    """`prices`: the last close per symbol, plus the mark prices under "marks" when the feed has them."""
    values = {
        "pid": pid,
        "started_at": started_at,
        "at": at,
        "version": version,
        "prices": json.dumps(prices, sort_keys=True),
    }
    if connection.execute(update(HEARTBEAT).where(HEARTBEAT.c.id == HEARTBEAT_ID).values(**values)).rowcount == 0:
        connection.execute(insert(HEARTBEAT).values(id=HEARTBEAT_ID, **values))


def add_operator_command(connection: Connection, *, command: str, reason: str, at: int) -> int:
    result = connection.execute(
        insert(OPERATOR_COMMANDS).values(command=command, reason=reason, at=at, processed_at=None, outcome=None)
    )
    key = result.inserted_primary_key
    assert key is not None, "an INSERT of one row has its primary key"
    return int(key[0])


PENDING_COMMANDS = (
    select(OPERATOR_COMMANDS.c.id, OPERATOR_COMMANDS.c.command, OPERATOR_COMMANDS.c.reason)
    .where(OPERATOR_COMMANDS.c.processed_at.is_(None))
    .order_by(OPERATOR_COMMANDS.c.id)
)


def pending_operator_commands(connection: Connection) -> list[tuple[int, str, str]]:
    return [tuple(row) for row in connection.execute(PENDING_COMMANDS)]


def finish_operator_command(connection: Connection, command_id: int, *, at: int, outcome: str) -> None:
    connection.execute(
        update(OPERATOR_COMMANDS).where(OPERATOR_COMMANDS.c.id == command_id).values(processed_at=at, outcome=outcome)
    )
