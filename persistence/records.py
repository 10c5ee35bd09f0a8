"""Plain writes beside the state machines: orders, fills, decisions, snapshots, heartbeat, commands.

Each function takes a Connection inside the caller's transaction, so a caller can
put it in the same transaction as a state change (`Store.fire(..., also=...)`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import fields, is_dataclass
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import Connection, Select, bindparam, insert, select, update

from config.profiles import ExitMode
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

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # each dataclass a policy snapshot met, with its fields' names


def _snapshot_value(value: Any) -> Any:
    """What JSON cannot encode itself in a policy snapshot: a dataclass as the dict of its fields (the encoder
    goes on into them), anything else (Decimal) as its text."""
    kind = type(value)
    names = _FIELD_NAMES.get(kind)
    if names is None:
        if not is_dataclass(value) or isinstance(value, type):
            return str(value)
        names = _FIELD_NAMES[kind] = tuple(field.name for field in fields(value))
    return {name: getattr(value, name) for name in names}


# Built once (`json.dumps` builds one per call). A policy snapshot's dataclasses are encoded as they stand, to the
# text `json.dumps(dataclasses.asdict(value), sort_keys=True, default=str)` gives, at less than half its cost:
# `asdict` deep-copies every leaf, and a snapshot is written on about a fifth of the one-minute steps.
SNAPSHOT_JSON = json.JSONEncoder(sort_keys=True, default=_snapshot_value)
STATE_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
# The C encoder `SNAPSHOT_JSON.encode` builds on every call, with the same settings, built once (without the markers
# that catch a cycle, which frozen values cannot form); None where Python has no C accelerator for JSON.
_C_MAKE_ENCODER = getattr(json.encoder, "c_make_encoder", None)  # not in the typing stubs
_SNAPSHOT_CHUNKS = (
    None
    if _C_MAKE_ENCODER is None
    else _C_MAKE_ENCODER(None, _snapshot_value, encode_basestring_ascii, None, ": ", ", ", True, False, True)
)


def _encoded(value: Any) -> str:
    """`SNAPSHOT_JSON.encode(value)`, to the byte."""
    if isinstance(value, str):  # a snapshot's regime, volatility and reasons: what `encode` does with text
        return encode_basestring_ascii(value)
    if _SNAPSHOT_CHUNKS is None:
        return SNAPSHOT_JSON.encode(value)
    return "".join(_SNAPSHOT_CHUNKS(value, 0))


# The orchestrator hands on the same few policies again and again, as the market's volatility flickers between two
# levels (two snapshots in three on a replay): the text of the last few policies met is kept by their identity. Kept
# here, a policy's id cannot be taken by another; a policy is frozen, so the same policy is the same text.
KEPT_POLICIES = 16
_POLICY_TEXT: dict[int, tuple[object, str]] = {}


def _policy_text(policy: Any) -> str:
    """`SNAPSHOT_JSON.encode(policy)`, kept for a dataclass (a mapping may change between two snapshots)."""
    if not is_dataclass(policy):
        return _encoded(policy)
    kept = _POLICY_TEXT.get(id(policy))
    if kept is None:
        if len(_POLICY_TEXT) >= KEPT_POLICIES:
            del _POLICY_TEXT[next(iter(_POLICY_TEXT))]  # the first kept of those kept
        kept = _POLICY_TEXT[id(policy)] = policy, _encoded(policy)
    return kept[1]


# A policy's inputs hand most of their parts on from one snapshot to the next as the very same objects (the costs, the
# performance, the symbols, the cool-downs, the risk state, until they change): the text of each tuple or dataclass
# field is kept with the part it was made from, and used again while the field holds that same object. Kept here, the
# part's id cannot be taken by another; a snapshot's values are frozen (dataclasses, numbers, text), so the same part
# is the same text.
_PART_TEXT: dict[tuple[type, str], tuple[object, str]] = {}
_SORTED_KEYS: dict[type, tuple[tuple[str, str], ...]] = {}  # each dataclass's fields, by name, with their JSON key


def _snapshot_text(value: Any) -> str:
    """`SNAPSHOT_JSON.encode(value)`, to the byte, at a third of its cost for a dataclass whose tuple and dataclass
    fields repeat those of the last one encoded: each field encoded on its own, in the name order `sort_keys` gives."""
    if not is_dataclass(value) or isinstance(value, type):
        return _encoded(value)
    kind = type(value)
    keys = _SORTED_KEYS.get(kind)
    if keys is None:
        names = sorted(field.name for field in fields(value))
        keys = _SORTED_KEYS[kind] = tuple((name, _encoded(name) + ": ") for name in names)
    parts = []
    for name, key in keys:
        part = getattr(value, name)
        if type(part) is tuple or is_dataclass(part):
            kept = _PART_TEXT.get((kind, name))
            if kept is None or kept[0] is not part:
                kept = _PART_TEXT[kind, name] = part, _encoded(part)
            parts.append(key + kept[1])
        else:
            parts.append(key + _encoded(part))
    return "{" + ", ".join(parts) + "}"


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
                "policy": _policy_text(row["policy"]),
                "inputs": _snapshot_text(row["inputs"]),
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
