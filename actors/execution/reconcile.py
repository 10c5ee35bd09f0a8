"""Applying the recovery plan (actors/execution/recovery.py): at start, and for unknown entries at every step."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from actors.execution import recovery
from actors.execution.book import LivePosition, Purpose, client_order_id, position_id_for
from actors.execution.orders import _order_row, _position_numbers, _protective_requests, _send_protective, order_state_row
from exchange.port import ExchangePosition, Fill, OrderRejected, OutcomeUnknown, RateLimited
from actors.exits.strategies import plan_exits
from actors.messages import HaltGate, Side
from actors.orchestrator.screen import STATIC_EXIT_MODE
from state_machines import PositionState

if TYPE_CHECKING:
    from actors.execution.actor import ExecutionActor

log = logging.getLogger("quantum_trader.execution")


def resolve_unknown(ex: ExecutionActor) -> None:
    """Look up, by client order id, every entry whose outcome is not known. Never resend."""
    waiting = [p for p in ex.live.values() if p.state in (PositionState.UNKNOWN, PositionState.PENDING_ENTRY)]
    if not waiting:
        return
    try:
        facts, exchange_facts = recovery.gather(waiting, ex.exchange, ex.prefix, positions_only=True)
    except (OutcomeUnknown, RateLimited):
        return  # still unknown: looked up again at the next step
    for action in recovery.plan(facts, exchange_facts, ex.prefix, positions_only=True):
        if action.kind != "confirm":
            log.warning("resolved by client order id: %s %s: %s", action.kind, action.target, action.detail)
        try:
            _apply(ex, action, exchange_facts)
        except (OutcomeUnknown, RateLimited):
            return  # the rest is looked up again at the next step


def reconcile(ex: ExecutionActor) -> tuple[recovery.Action, ...]:
    """At (re)start: apply what happened while down, then the recovery plan (actors/execution/recovery.py)."""
    ex.apply_exchange_events()
    facts, exchange_facts = recovery.gather(ex.live.values(), ex.exchange, ex.prefix)
    actions = recovery.plan(facts, exchange_facts, ex.prefix)
    _refresh_order_rows(ex, facts)
    for action in actions:
        if action.kind != "confirm":
            log.warning("recovery: %s %s: %s", action.kind, action.target, action.detail)
        _apply(ex, action, exchange_facts)
    ex._flush()
    return actions


def _refresh_order_rows(ex: ExecutionActor, facts: list[recovery.PositionFacts]) -> None:
    """Order rows as the exchange has them now: a status update deferred to the end of a step is lost with a kill."""
    for position in facts:
        for order in (position.entry, *position.orders.values()):
            if order is not None:
                ex.writes.append(order_state_row(order))


def _apply(ex: ExecutionActor, action: recovery.Action, facts: recovery.ExchangeFacts) -> None:
    if action.kind == "adopt":
        _adopt(ex, facts.held[action.target])
        return
    if action.kind == "cancel_orphan":
        try:
            ex.exchange.cancel_order(action.symbol, action.target)
        except OrderRejected:
            pass  # gone already
        return
    if action.kind == "halt":
        ex.tell("orchestrator", HaltGate(reason=f"recovery: {action.target}: {action.detail}"))
        return
    position = ex.live.get(action.target)
    if position is None:
        return  # finished by an earlier action of the plan
    match action.kind:
        case "cancel_entry" | "reject_entry":
            ex.fire(position, "cancel" if action.kind == "cancel_entry" else "reject", reason=action.detail)
            ex.finish(position, "cancelled")
        case "confirm_submitted":
            ex.fire(position, "submit", reason=action.detail)
        case "fill_from_lookup":
            _fill_from_lookup(ex, position)
        case "apply_fills":
            _apply_fills(ex, position, action.purposes)
        case "exit_failed":
            ex.fire(position, "exit_failed", reason=action.detail)
        case "close":
            ex.fire(position, "reconcile", reason=action.detail,
                    changes=dict(close_reason="closed on the exchange", closed_at=ex.ctx.clock.now_ms()))
            ex.finish(position, "closed on the exchange")
        case "reprotect":
            _reprotect(ex, position, action.purposes)


def _apply_fills(ex: ExecutionActor, position: LivePosition, purposes: tuple[str, ...]) -> None:
    """The fills of the position's orders that nobody heard of, from the exchange's trades, in the order they happened:
    each closes or shrinks the position for its order's reason, with the exchange's prices, fees and PnL."""
    fills = [fill for purpose in purposes if purpose in position.orders
             for fill in ex.exchange.order_fills(position.symbol, position.orders[purpose])]
    for fill in sorted(fills, key=lambda f: (f.at, f.trade_id)):
        if position.id in ex.live:
            ex.apply_fill(fill)


def _reprotect(ex: ExecutionActor, position: LivePosition, missing: tuple[str, ...]) -> None:
    for purpose in missing:
        position.orders.pop(purpose, None)
    partial = position.partial_quantity if position.state == PositionState.OPEN else Decimal(0)
    requests = _protective_requests(ex, position, partial, missing)
    for purpose, request in requests:
        ex.index(position, purpose, request.client_order_id)
        ex.writes.append(_order_row(ex, position.id, request.client_order_id, purpose, request))
    if requests:
        ex.writes.append(_position_numbers(ex, position))
        ex._flush()
        _send_protective(ex, position, requests)


def _adopt(ex: ExecutionActor, held: ExchangePosition) -> None:
    """A position on the exchange with no record here: take it on, protected by the static exit mode."""
    side = Side.LONG if held.quantity > 0 else Side.SHORT
    quantity = abs(held.quantity)
    pid = position_id_for(f"adopt-{held.symbol}-{held.entry_price}-{quantity}")
    entry_id = client_order_id(ex.prefix, Purpose.ENTRY, pid)
    now = ex.ctx.clock.now_ms()
    values = dict(
        id=pid, symbol=held.symbol, side=str(side), client_order_id=entry_id, quantity=quantity, filled_quantity=quantity,
        entry_price=held.entry_price, exit_price=None, stop_price=None, take_profit_price=None, realized_pnl=Decimal(0),
        fees=Decimal(0), exit_mode=str(STATIC_EXIT_MODE), signal_id=None, close_reason=None, opened_at=now, closed_at=None,
        details="{}",
    )
    model = ex.store.create_position(ex.machine, values, at=now, reason="found on the exchange with no record here",
                                     payload={"quantity": str(quantity), "entry_price": str(held.entry_price)})
    position = LivePosition(model=model, symbol=held.symbol, side=side, quantity=quantity, exit_mode=STATIC_EXIT_MODE,
                            stop_distance=Decimal(0), filled=quantity, entry_price=held.entry_price,
                            entry_cost=quantity * held.entry_price)
    ex.live[pid] = position
    ex.index(position, Purpose.ENTRY, entry_id)
    filters = ex.exchange.symbol_filters(held.symbol)
    plan = plan_exits(ex.ctx.settings.exit_modes[STATIC_EXIT_MODE], side, filters.round_price(held.entry_price, up=False),
                      quantity, filters)
    position.stop_price, position.take_profit_price = plan.stop_price, plan.take_profit_price
    position.risk_per_unit, position.trailing_pct = plan.risk_per_unit, plan.trailing_pct
    requests = _protective_requests(ex, position, Decimal(0))
    rows = []
    for purpose, request in requests:
        ex.index(position, purpose, request.client_order_id)
        rows.append(_order_row(ex, pid, request.client_order_id, purpose, request))
    ex.fire(position, "adopt", reason="position found on the exchange with no record here; adopted and protected",
            changes=dict(stop_price=plan.stop_price, take_profit_price=plan.take_profit_price, details=position.details()),
            also=lambda c: [w(c) for w in rows])
    _send_protective(ex, position, requests)


def _fill_from_lookup(ex: ExecutionActor, position: LivePosition) -> None:
    """The entry filled while nobody listened: apply its trades (or, when they cannot be read, the order's own
    figures, with the fee unknown)."""
    entry_id = client_order_id(ex.prefix, Purpose.ENTRY, position.id)
    order = ex.exchange.get_order(position.symbol, entry_id)
    if order is None or order.filled_qty <= 0 or order.avg_price is None:
        return
    if position.state == PositionState.PENDING_ENTRY:
        ex.fire(position, "submit", reason="entry order found on the exchange after a restart")
    fills = ex.exchange.order_fills(position.symbol, entry_id) or (
        Fill(client_order_id=entry_id, symbol=position.symbol, side=order.side, quantity=order.filled_qty,
             price=order.avg_price, fee=Decimal(0), realized_pnl=Decimal(0), at=ex.ctx.clock.now_ms(), trade_id=0),)
    for fill in fills:
        ex.apply_fill(fill)
