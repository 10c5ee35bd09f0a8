"""Recovery at start: what the exchange says against what the database says, as a plan.

`gather` asks the exchange (lookups by client order id, positions, open orders);
`plan` is pure and decides; the execution actor applies the plan at start, and
`quantum-trader recover --dry-run` prints it without changing anything.

Rules (DESIGN.md, crash safety):
- an entry never confirmed is looked up by client order id: not there -> it was never
  placed (cancelled); rejected/cancelled there -> so here; there and live -> submitted;
  it is never sent again;
- an order of a live position that filled while nobody listened (a stop, a take-profit, a
  partial take-profit, our own exit) has its fills applied from the exchange's trades,
  so the position closes, or shrinks, for that order's reason and with its figures;
- an open position the exchange no longer holds, and that no order of ours explains, was
  closed behind our back (liquidation, closed by hand): closed through `reconcile`, with why;
- an exit order that never reached the exchange is undone (`closing` -> `open`): the exit
  strategy asks again;
- an open position whose protective orders are gone gets them placed again;
- a position on the exchange with no record here is adopted and protected;
- an open order with our client-id prefix that belongs to no live position (or to one the plan closes) is
  cancelled: at start, and by the light reconcile while running (one rule for both);
- while running, a position on the exchange in a configured symbol with no record here is reported, not adopted:
  it may be an entry written off a moment ago whose late fill is on its way (adopted at the next start);
- a quantity or side that disagrees cannot be resolved safely: the gate halts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from actors.execution.book import LivePosition
from actors.execution.ids import Purpose, client_order_id, instance_prefix, parse_client_order_id
from actors.messages import Side
from exchange.port import ExchangePort, ExchangePosition, NotFoundYet, OrderState, OrderStatus
from state_machines import PositionState

REPLACEABLE = (Purpose.STOP, Purpose.TAKE_PROFIT, Purpose.PARTIAL)  # reduce-only: placed again when in doubt
ENTRY_STATES = (PositionState.PENDING_ENTRY, PositionState.ENTRY_SUBMITTED, PositionState.UNKNOWN)
OPEN_STATES = (PositionState.OPEN, PositionState.PARTIALLY_CLOSED, PositionState.CLOSING)
LOOKED_UP = (*ENTRY_STATES, *OPEN_STATES)
COVERING = (Purpose.STOP, Purpose.TAKE_PROFIT)  # each must cover the whole open quantity
REFUSED = (OrderStatus.REJECTED, OrderStatus.CANCELED, OrderStatus.EXPIRED)


@dataclass(frozen=True, slots=True)
class PositionFacts:
    position_id: str
    symbol: str
    side: Side
    state: str
    open_quantity: Decimal
    entry: OrderState | None
    orders: dict[str, OrderState | None] = field(default_factory=dict)  # purpose -> the exchange's view of it
    applied: dict[str, Decimal] = field(default_factory=dict)  # client order id -> quantity applied here
    # False: taken from the open orders alone, not looked up (`resting_facts`): the position counts as live and its
    # resting orders as current, but the plan settles nothing of it.
    examined: bool = True


@dataclass(frozen=True, slots=True)
class ExchangeFacts:
    held: dict[str, ExchangePosition]
    open_orders: tuple[OrderState, ...]


@dataclass(frozen=True, slots=True)
class Action:
    kind: str  # cancel_entry | reject_entry | confirm_submitted | fill_from_lookup | apply_fills | exit_failed | close
    #            | reduce | reprotect | adopt | unowned | foreign | cancel_orphan | halt | confirm
    target: str  # a position id, a client order id (orphans) or a symbol (adoptions)
    detail: str
    purposes: tuple[str, ...] = ()
    symbol: str = ""


def gather(
    live: Iterable[LivePosition],
    exchange: ExchangePort,
    prefix: str,
    *,
    positions_only: bool = False,
) -> tuple[list[PositionFacts], ExchangeFacts]:
    facts = []
    for position in live:
        entry_id = client_order_id(prefix, Purpose.ENTRY, position.id)
        # An open position's entry too: a market entry fills in several trades, some may not be applied yet.
        entry = exchange.get_order(position.symbol, entry_id) if position.state in LOOKED_UP else None
        orders = (
            {
                purpose: (
                    _protective(exchange, position.symbol, cid)
                    if purpose in REPLACEABLE
                    else exchange.get_order(position.symbol, cid)
                )
                for purpose, cid in position.orders.items()
            }
            if position.state in OPEN_STATES
            else {}
        )
        facts.append(
            PositionFacts(
                position.id,
                position.symbol,
                position.side,
                position.state,
                position.open_quantity,
                entry,
                orders,
                dict(position.applied),
            )
        )
    if positions_only:
        return facts, ExchangeFacts(held={}, open_orders=())
    held = {p.symbol: p for p in exchange.positions() if p.quantity != 0}
    return facts, ExchangeFacts(held=held, open_orders=tuple(exchange.open_orders()))


def _protective(exchange: ExchangePort, symbol: str, client_id: str) -> OrderState | None:
    """An exit-side order as the exchange has it; one not found yet after a lost answer counts as missing (placed
    again under a new id: reduce-only, so a second one cannot hurt, and the one not current is cancelled)."""
    try:
        return exchange.get_order(symbol, client_id)
    except NotFoundYet:
        return None


def resting_facts(position: LivePosition, resting: Mapping[str, OrderState], prefix: str) -> PositionFacts:
    """A live position's facts from the exchange's open orders alone, without a lookup (the light reconcile's
    positions that look as they should): it counts as ours, its resting orders as current; it is not settled."""
    return PositionFacts(
        position.id,
        position.symbol,
        position.side,
        position.state,
        position.open_quantity,
        resting.get(client_order_id(prefix, Purpose.ENTRY, position.id)),
        {purpose: resting.get(cid) for purpose, cid in position.orders.items()},
        dict(position.applied),
        examined=False,
    )


def _other_instances(prefix: str, symbol: str, open_orders: Iterable[OrderState]) -> list[str]:
    """The prefixes of other instances (another database's salt, another configured prefix) whose orders rest on
    `symbol`: a position there is theirs, never adopted, whatever its symbol."""
    found = {instance_prefix(o.client_order_id) for o in open_orders if o.symbol == symbol}
    return sorted(p for p in found if p is not None and p != prefix)


def plan(
    positions: list[PositionFacts],
    exchange: ExchangeFacts,
    prefix: str,
    *,
    positions_only: bool = False,
    running: bool = False,
    symbols: Collection[str] | None = None,
) -> tuple[Action, ...]:
    """`positions_only`: just settle the given positions (the per-step lookup of unknown entries). `running`: the
    service was up while it happened (the light reconcile: the reasons say so, and nothing is adopted). `symbols`:
    the configured symbols; a position held in any other is someone else's (reported, left alone).

    Without `positions_only`, `positions` must hold every live position (examined or not): an open order of ours
    that is not the current order of one of them is an orphan."""
    actions: list[Action] = []
    ours = {p.symbol for p in positions if p.state in OPEN_STATES or p.state in ENTRY_STATES}
    for facts in positions:
        if facts.examined:
            actions.extend(_position_actions(facts, exchange, running, at_start=not running and not positions_only))
    if positions_only:
        return tuple(actions)
    for symbol, held in sorted(exchange.held.items()):
        side = "LONG" if held.quantity > 0 else "SHORT"
        if symbol not in ours and symbols is not None and symbol not in symbols:
            actions.append(
                Action(
                    "foreign",
                    symbol,
                    f"exchange holds {side} {abs(held.quantity)} {symbol}, not a configured symbol: left alone",
                    symbol=symbol,
                )
            )
        elif symbol not in ours and running:
            actions.append(
                Action(
                    "unowned",
                    symbol,
                    f"exchange holds {side} {abs(held.quantity)} {symbol} with no record here: "
                    "left alone while running, adopted at the next start",
                    symbol=symbol,
                )
            )
        elif symbol not in ours and (others := _other_instances(prefix, symbol, exchange.open_orders)):
            actions.append(
                Action(
                    "foreign",
                    symbol,
                    f"exchange holds {side} {abs(held.quantity)} {symbol} with orders of another instance "
                    f"({', '.join(others)}): left alone",
                    symbol=symbol,
                )
            )
        elif symbol not in ours:
            actions.append(
                Action(
                    "adopt",
                    symbol,
                    f"exchange holds {side} {abs(held.quantity)} {symbol} at {held.entry_price} "
                    "with no record here: adopted and protected",
                    symbol=symbol,
                )
            )
    closed = {a.target for a in actions if a.kind == "close"}  # its resting orders belong to no live position now
    live = [p for p in positions if p.position_id not in closed]
    live_ids = {p.position_id for p in live}
    current = {o.client_order_id for p in live for o in (p.entry, *p.orders.values()) if o is not None}
    for order in exchange.open_orders:
        parsed = parse_client_order_id(prefix, order.client_order_id)
        if parsed is None or order.client_order_id in current:
            continue
        whose = "belongs to no live position" if parsed[1] not in live_ids else f"was replaced ({parsed[1]})"
        actions.append(
            Action(
                "cancel_orphan",
                order.client_order_id,
                f"open {order.type} order of ours for {order.symbol} {whose}",
                symbol=order.symbol,
            )
        )
    return tuple(actions)


def _position_actions(
    facts: PositionFacts, exchange: ExchangeFacts, running: bool = False, *, at_start: bool = False
) -> list[Action]:
    """`at_start`: the whole account was read after the lookups (the start's plan), so a symbol it does not hold is
    not held."""
    pid = facts.position_id
    if facts.state in ENTRY_STATES:
        entry = facts.entry
        if entry is None:
            return [
                Action(
                    "cancel_entry", pid, "entry order not found on the exchange by client order id: it was never placed"
                )
            ]
        if entry.status in REFUSED and entry.filled_qty == 0:
            kind = "reject_entry" if entry.status is OrderStatus.REJECTED else "cancel_entry"
            return [Action(kind, pid, f"entry order found {entry.status.lower()} by client order id")]
        if entry.filled_qty > 0 and facts.open_quantity == 0:
            # Its fills happened while nobody listened: take them from the order itself.
            lookup = Action(
                "fill_from_lookup",
                pid,
                f"entry order found {entry.status.lower()} by client order id: {entry.filled_qty} at {entry.avg_price}",
            )
            if at_start and facts.symbol not in exchange.held:
                # Closed on the exchange while the service was down, before anything protected it: recorded closed
                # at once, so that no protective order is sent for a position the exchange no longer holds (one
                # whose answer is lost would rest there, an orphan, until a later reconcile cancels it).
                return [lookup, Action("close", pid, "position closed on the exchange while the service was down")]
            return [lookup]
        if facts.state == PositionState.PENDING_ENTRY:
            return [
                Action(
                    "confirm_submitted",
                    pid,
                    f"entry order found {entry.status.lower()} on the exchange after a restart",
                )
            ]
        return [
            Action(
                "confirm", pid, f"entry order {entry.status.lower()} on the exchange; fills are applied as they arrive"
            )
        ]
    actions = []
    unapplied, filled, told = Decimal(0), [], []
    entry_gap = _gap(facts, facts.entry)
    if facts.entry is not None and entry_gap > 0:
        filled.append(Purpose.ENTRY)
        told.append(f"entry {facts.entry.status.lower()} {entry_gap} more at {facts.entry.avg_price}")
    for purpose, order in sorted(facts.orders.items()):
        gap = _gap(facts, order)
        if order is not None and gap > 0:
            unapplied += gap
            filled.append(purpose)
            told.append(f"{purpose} {order.status.lower()} {gap} at {order.avg_price}")
    if filled:
        actions.append(Action("apply_fills", pid, f"fills not applied yet: {', '.join(told)}", tuple(filled)))
    expected = facts.open_quantity + entry_gap - unapplied
    held = exchange.held.get(facts.symbol)
    if held is None:
        if expected > 0:
            why = (
                "by the exchange or by hand (liquidation, auto-deleverage, a manual close)"
                if running
                else ("while the service was down")
            )
            actions.append(Action("close", pid, f"position closed on the exchange {why}"))
        return actions
    held_side = Side.LONG if held.quantity > 0 else Side.SHORT
    if held_side is facts.side and 0 < abs(held.quantity) < expected:
        why = (
            "by the exchange or by hand (auto-deleverage, a manual close)" if running else "while the service was down"
        )
        return [
            *actions,
            Action(
                "reduce",
                pid,
                f"{expected - abs(held.quantity)} of {expected} {facts.symbol} closed on the exchange {why}; "
                f"{abs(held.quantity)} still held",
            ),
        ]
    if held_side is not facts.side or abs(held.quantity) != expected:
        return [
            *actions,
            Action(
                "halt",
                pid,
                f"exchange holds {held_side} {abs(held.quantity)} {facts.symbol}, "
                f"the database {facts.side} {expected}: a person must look",
            ),
        ]
    exit_order = facts.orders.get(Purpose.EXIT)
    if facts.state == PositionState.CLOSING and (exit_order is None or _gone(exit_order)):
        actions.append(
            Action("exit_failed", pid, "the exit order never filled on the exchange; the position stays open")
        )
    missing = tuple(
        sorted(
            p
            for p, order in facts.orders.items()
            if p != Purpose.EXIT
            and (order is None or _gone(order) or (p in COVERING and order.status is OrderStatus.FILLED))
            and not (p == Purpose.PARTIAL and facts.state != PositionState.OPEN)
        )
    )
    short = tuple(
        sorted(
            p
            for p, order in facts.orders.items()
            if p in COVERING and order is not None and not order.status.is_final and order.quantity < expected
        )
    )
    if missing or short:
        told = [f"protective orders missing on the exchange: {', '.join(missing)}"] if missing else []
        told += [f"{p} covers {_quantity(facts.orders[p])} of {expected}" for p in short]
        actions.append(Action("reprotect", pid, "; ".join(told), missing + short))
    return actions or [Action("confirm", pid, "position and its orders match the exchange")]


def _quantity(order: OrderState | None) -> Decimal:
    return Decimal(0) if order is None else order.quantity


def _gap(facts: PositionFacts, order: OrderState | None) -> Decimal:
    """What the exchange filled of the order that is not applied here yet."""
    return Decimal(0) if order is None else order.filled_qty - facts.applied.get(order.client_order_id, Decimal(0))


def _gone(order: OrderState) -> bool:
    """No longer resting and never filled: cancelled, expired or rejected."""
    return order.status.is_final and order.status is not OrderStatus.FILLED


def describe(actions: tuple[Action, ...]) -> list[str]:
    return [f"{a.kind:<18} {a.target:<24} {a.detail}" for a in actions] or [
        "nothing to do: the database and the exchange agree"
    ]
