"""Order flows of the execution actor: open, protect, trail, close, resolve, reconcile.

Every order row is committed before its order is sent (write ahead), and every
client order id is deterministic, so a restart finds what it may have sent and
looks it up instead of sending it again.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from actors.execution.book import LivePosition, Purpose, client_order_id, entry_side, exit_side, r_multiple
from exchange.port import (
    ExchangeError, OrderRejected, OrderRequest, OrderState, OrderType, OutcomeUnknown, RateLimited, RejectCode,
)
from actors.exits.strategies import plan_exits
from actors.messages import (
    ClosePosition, DecisionReason, MoveStop, OrderIntent, PartialTakeProfitFilled, PositionEvent, PositionOpened, SymbolFilters,
)
from persistence import records
from state_machines import PositionState

if TYPE_CHECKING:
    from actors.execution.actor import ExecutionActor

log = logging.getLogger("quantum_trader.execution")
LIVE_EXIT_STATES = (PositionState.OPEN, PositionState.PARTIALLY_CLOSED)
CLOSE_REASONS = {Purpose.TAKE_PROFIT: "take-profit", Purpose.PARTIAL: "take-profit"}


def entry_client_id(ex: ExecutionActor, position: LivePosition) -> str:
    return client_order_id(ex.prefix, Purpose.ENTRY, position.id)


def known_filters(ex: ExecutionActor, symbols: tuple[str, ...] = ()) -> tuple[tuple[str, SymbolFilters], ...]:
    found = []
    for symbol in sorted(set(ex.ctx.settings.symbols) | set(symbols)):
        try:
            found.append((symbol, ex.exchange.symbol_filters(symbol)))
        except KeyError:  # a symbol without filters until its first price
            continue
    return tuple(found)


def _order_row(ex: ExecutionActor, position_id: str, client_id: str, purpose: str, request: OrderRequest) -> Any:
    now = ex.ctx.clock.now_ms()
    return lambda c: records.insert_order(
        c, position_id=position_id, client_order_id=client_id, purpose=purpose, side=str(request.side),
        type=str(request.type), quantity=request.quantity, trigger_price=request.trigger_price,
        reduce_only=request.reduce_only, status="PENDING", created_at=now, updated_at=now)


def _sent(state: Any) -> Any:
    return lambda c: records.update_order(
        c, state.client_order_id, status=str(state.status), exchange_order_id=str(state.exchange_order_id),
        updated_at=state.updated_at)


def order_state_row(state: OrderState) -> Any:
    """The exchange's word on one of our orders, for its row."""
    return lambda c: records.update_order(
        c, state.client_order_id, status=str(state.status), filled_quantity=state.filled_qty,
        average_price=state.avg_price, exchange_order_id=str(state.exchange_order_id), updated_at=state.updated_at)


def _not_sent(client_id: str, why: str, at: int) -> Any:
    return lambda c: records.update_order(c, client_id, status="NOT_SENT", reject_message=why, updated_at=at)


def _refused(client_id: str, error: OrderRejected, at: int) -> Any:
    return lambda c: records.update_order(
        c, client_id, status="REJECTED", reject_code=error.code, reject_message=error.message, updated_at=at)


# --- entries ------------------------------------------------------------------------------


def open_position(ex: ExecutionActor, intent: OrderIntent) -> dict[str, Any] | None:
    signal, pid = intent.signal, intent.position_id
    entry_id = client_order_id(ex.prefix, Purpose.ENTRY, pid)
    request = OrderRequest(client_order_id=entry_id, symbol=signal.symbol, side=entry_side(signal.side),
                           type=OrderType.MARKET, quantity=intent.quantity)
    now = ex.ctx.clock.now_ms()
    values = dict(
        id=pid, symbol=signal.symbol, side=str(signal.side), client_order_id=entry_id, quantity=intent.quantity,
        filled_quantity=Decimal(0), entry_price=None, exit_price=None, stop_price=None, take_profit_price=None,
        realized_pnl=Decimal(0), fees=Decimal(0), exit_mode=str(intent.exit_mode), signal_id=signal.id,
        close_reason=None, opened_at=None, closed_at=None, details="{}",
    )
    position = LivePosition(model=None, symbol=signal.symbol, side=signal.side, quantity=intent.quantity,  # type: ignore[arg-type]
                            exit_mode=intent.exit_mode, stop_distance=intent.stop_distance)
    values["details"] = position.details()
    try:
        position.model = ex.store.create_position(
            ex.machine, values, at=now, also=_order_row(ex, pid, entry_id, Purpose.ENTRY, request),
            reason=f"signal {signal.id} ({signal.source}, confidence {signal.confidence:.2f}): {intent.note}",
            payload={"signal_id": signal.id, "quantity": str(intent.quantity), "risk_pct": intent.risk_pct,
                     "exit_mode": str(intent.exit_mode), "client_order_id": entry_id},
        )
    except IntegrityError:
        log.info("signal %s was already acted on (position %s exists); ignored", signal.id, pid)
        return None
    ex.live[pid] = position
    ex.index(position, Purpose.ENTRY, entry_id)
    try:
        state = ex.exchange.place_order(request)
    except OrderRejected as error:
        ex.fire(position, "reject", reason=f"exchange rejected the entry: {error.code} {error.message}",
                also=_refused(entry_id, error, now), code=error.code)
        ex.finish(position, "rejected")
        return ex.decision(intent, DecisionReason.REJECTED_BY_EXCHANGE, f"{error.code} {error.message}")
    except RateLimited as error:
        ex.fire(position, "cancel", reason=f"rate limited before sending; retry after {error.retry_after_s}s")
        ex.finish(position, "cancelled")
        return ex.decision(intent, DecisionReason.REJECTED_BY_EXCHANGE, f"rate limited ({error.retry_after_s}s)")
    except OutcomeUnknown as error:
        ex.fire(position, "outcome_unknown", reason=f"entry outcome unknown ({error}); resolving by client order id")
        return ex.decision(intent, DecisionReason.ACCEPTED, "sent; outcome unknown, resolving by client order id")
    ex.fire(position, "submit", reason="entry order sent", also=_sent(state), client_order_id=entry_id)
    return ex.decision(intent, DecisionReason.ACCEPTED, f"{intent.quantity} {signal.symbol} {signal.side}; {intent.note}")


def on_entry_fill(ex: ExecutionActor, position: LivePosition, fill: dict[str, Any]) -> list[PositionEvent]:
    writes = [lambda c: records.insert_fill(c, **fill)]
    if position.state not in (PositionState.ENTRY_SUBMITTED, PositionState.UNKNOWN, PositionState.CANCELLED):
        ex.writes.extend(writes)  # a further partial fill of an entry already open
        ex.writes.append(_position_numbers(ex, position))
        return []
    filters = ex.exchange.symbol_filters(position.symbol)
    params = ex.ctx.settings.exit_modes[position.exit_mode]
    assert position.entry_price is not None
    entry = filters.round_price(position.entry_price, up=False)
    plan = plan_exits(params, position.side, entry, position.filled, filters, position.stop_distance or None)
    position.stop_price, position.take_profit_price = plan.stop_price, plan.take_profit_price
    position.partial_price, position.risk_per_unit, position.trailing_pct = plan.partial_price, plan.risk_per_unit, plan.trailing_pct
    position.partial_quantity = plan.partial_quantity
    requests = _protective_requests(ex, position, plan.partial_quantity)
    for purpose, request in requests:
        ex.index(position, purpose, request.client_order_id)
        writes.append(_order_row(ex, position.id, request.client_order_id, purpose, request))
    ex.fire(
        position, "entry_filled", reason=f"entry filled: {position.filled} at {position.entry_price}",
        changes=dict(entry_price=position.entry_price, filled_quantity=position.filled, opened_at=fill["at"],
                     stop_price=plan.stop_price, take_profit_price=plan.take_profit_price, fees=position.fees,
                     details=position.details()),
        also=lambda c: [w(c) for w in writes], price=str(fill["price"]), quantity=str(fill["quantity"]),
        stop=str(plan.stop_price), take_profit=str(plan.take_profit_price),
    )
    _send_protective(ex, position, requests)
    return [PositionOpened(
        position_id=position.id, symbol=position.symbol, side=position.side, entry_price=entry,
        quantity=position.filled, stop_price=plan.stop_price, take_profit_price=plan.take_profit_price,
        partial_price=plan.partial_price, risk_per_unit=plan.risk_per_unit, trailing_pct=plan.trailing_pct,
        exit_mode=position.exit_mode,
    )]


def _protective_requests(
    ex: ExecutionActor, position: LivePosition, partial_quantity: Decimal,
    purposes: tuple[str, ...] = (Purpose.STOP, Purpose.TAKE_PROFIT, Purpose.PARTIAL),
) -> list[tuple[str, OrderRequest]]:
    """Each request takes the purpose's next number: a re-placed order never reuses a client order id."""
    side, quantity = exit_side(position.side), position.open_quantity

    def request(purpose: str, order_type: OrderType, amount: Decimal, trigger: Decimal | None) -> tuple[str, OrderRequest]:
        number = _next_number(position, purpose)
        return purpose, OrderRequest(
            client_order_id=client_order_id(ex.prefix, purpose, position.id, number), symbol=position.symbol, side=side,
            type=order_type, quantity=amount, trigger_price=trigger, reduce_only=True)

    found = []
    if Purpose.STOP in purposes:
        found.append(request(Purpose.STOP, OrderType.STOP_MARKET, quantity, position.stop_price))
    if Purpose.TAKE_PROFIT in purposes and position.take_profit_price is not None:
        found.append(request(Purpose.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET, quantity, position.take_profit_price))
    if Purpose.PARTIAL in purposes and position.partial_price is not None and partial_quantity > 0:
        found.append(request(Purpose.PARTIAL, OrderType.TAKE_PROFIT_MARKET, partial_quantity, position.partial_price))
    return found


def _next_number(position: LivePosition, purpose: str) -> int:
    """Each purpose counts its own orders: a client order id is never used twice, across restarts too (kept in details)."""
    number = position.numbers.get(purpose, -1) + 1
    position.numbers[purpose] = number
    return number


def _market_exit(ex: ExecutionActor, position: LivePosition, purpose: str, quantity: Decimal) -> OrderRequest:
    """A reduce-only market order closing `quantity` of the position, under the purpose's next client order id."""
    return OrderRequest(client_order_id=client_order_id(ex.prefix, purpose, position.id, _next_number(position, purpose)),
                        symbol=position.symbol, side=exit_side(position.side), type=OrderType.MARKET, quantity=quantity,
                        reduce_only=True)


def _send_protective(ex: ExecutionActor, position: LivePosition, requests: list[tuple[str, OrderRequest]]) -> None:
    now = ex.ctx.clock.now_ms()
    for purpose, request in requests:
        try:
            ex.writes.append(_sent(ex.exchange.place_order(request)))
        except OrderRejected as error:
            ex.writes.append(_refused(request.client_order_id, error, now))
            if error.code != RejectCode.ORDER_WOULD_IMMEDIATELY_TRIGGER:
                log.warning("%s %s order refused: %s", position.id, purpose, error)
            elif purpose == Purpose.PARTIAL:
                _take_partial_now(ex, position, request.quantity)
            else:  # the price is already past the stop or the target (it moved while the order was not resting)
                reason = "stop-loss already crossed" if purpose == Purpose.STOP else "take-profit already crossed"
                close_position(ex, ClosePosition(position_id=position.id, reason=reason))
                return
        except (OutcomeUnknown, RateLimited) as error:
            log.warning("%s %s order outcome unknown (%s); reconciled at the next start", position.id, purpose, error)


def _take_partial_now(ex: ExecutionActor, position: LivePosition, quantity: Decimal) -> None:
    """The partial take-profit's price is already passed: take that part at market (its fill is the partial's)."""
    request = _market_exit(ex, position, Purpose.PARTIAL, quantity)
    ex.index(position, Purpose.PARTIAL, request.client_order_id)
    ex.writes.append(_order_row(ex, position.id, request.client_order_id, Purpose.PARTIAL, request))
    ex.writes.append(_position_numbers(ex, position))
    ex._flush()  # write ahead
    log.info("%s partial take-profit already crossed: %s taken at market", position.id, quantity)
    try:
        ex.writes.append(_sent(ex.exchange.place_order(request)))
    except OrderRejected as error:
        ex.writes.append(_refused(request.client_order_id, error, ex.ctx.clock.now_ms()))
        log.warning("%s partial take-profit at market refused: %s", position.id, error)
    except (OutcomeUnknown, RateLimited) as error:
        log.warning("%s partial take-profit at market: outcome unknown (%s); reconciled at the next start", position.id, error)


# --- exits --------------------------------------------------------------------------------


def on_exit_fill(ex: ExecutionActor, position: LivePosition, purpose: str, fill: dict[str, Any]) -> list[PositionEvent]:
    fill_write = lambda c: records.insert_fill(c, **fill)  # noqa: E731
    if position.open_quantity <= 0 and position.state in (*LIVE_EXIT_STATES, PositionState.CLOSING):
        reason = _close_reason(position, purpose)
        _cancel_resting(ex, position, keep=purpose)
        net = position.realized_pnl - position.fees
        ex.fire(
            position, "exit_filled", reason=reason, also=fill_write, pnl=str(net),
            changes=dict(exit_price=position.exit_price, realized_pnl=position.realized_pnl, fees=position.fees,
                         closed_at=fill["at"], close_reason=reason, details=position.details()),
        )
        ex.records.add(position.symbol, net, r_multiple(position, net), fill["at"])
        ex.snapshot_equity_now(fill["at"])
        return ex.finish(position, reason)
    if purpose == Purpose.PARTIAL and position.state == PositionState.OPEN:
        ex.fire(position, "partial_take_profit", reason=f"partial take-profit filled: {fill['quantity']} at {fill['price']}",
                also=fill_write, changes=dict(realized_pnl=position.realized_pnl, fees=position.fees, details=position.details()))
        return [PartialTakeProfitFilled(position_id=position.id)]
    ex.writes.append(fill_write)
    ex.writes.append(_position_numbers(ex, position))
    return []


def _close_reason(position: LivePosition, purpose: str) -> str:
    if purpose == Purpose.STOP:
        return "trailing stop" if position.stop_moves else "stop-loss"
    if purpose == Purpose.EXIT:
        return position.close_reason or "closed by the service"
    return CLOSE_REASONS.get(purpose, purpose)


def _cancel_resting(ex: ExecutionActor, position: LivePosition, keep: str) -> None:
    for purpose, client_id in list(position.orders.items()):
        if purpose == keep:
            continue
        try:
            ex.exchange.cancel_order(position.symbol, client_id)
        except OrderRejected:
            continue  # already filled, expired or cancelled: nothing rests
        except (OutcomeUnknown, RateLimited) as error:  # reduce-only: with the position gone it can never fill
            log.warning("%s %s not cancelled (%s); a start cancels it as an orphan", position.id, client_id, error)


def _position_numbers(ex: ExecutionActor, position: LivePosition) -> Any:
    from persistence.tables import POSITIONS

    values = dict(filled_quantity=position.filled, realized_pnl=position.realized_pnl, fees=position.fees,
                  stop_price=position.stop_price, details=position.details())
    return lambda c: c.execute(POSITIONS.update().where(POSITIONS.c.id == position.id).values(**values))


def move_stop(ex: ExecutionActor, command: MoveStop) -> None:
    position = ex.live.get(command.position_id)
    if position is None or position.state not in LIVE_EXIT_STATES or position.open_quantity <= 0:
        return
    old = position.orders.get(Purpose.STOP)
    position.stop_moves += 1
    previous_stop, position.stop_price = position.stop_price, command.stop_price
    request = _protective_requests(ex, position, Decimal(0), (Purpose.STOP,))[0][1]
    ex.index(position, Purpose.STOP, request.client_order_id)
    ex.writes.append(_order_row(ex, position.id, request.client_order_id, Purpose.STOP, request))
    ex.writes.append(_position_numbers(ex, position))
    ex._flush()  # write ahead: the new stop's row is durable before it is sent
    def keep_old_stop() -> None:
        position.stop_price = previous_stop
        if old is not None:
            ex.index(position, Purpose.STOP, old)
        ex.writes.append(_position_numbers(ex, position))

    try:
        ex.writes.append(_sent(ex.exchange.place_order(request)))
    except RateLimited as error:  # nothing was sent: the old stop still rests, the next move tries again
        ex.writes.append(_not_sent(request.client_order_id, str(error), ex.ctx.clock.now_ms()))
        keep_old_stop()
        return
    except OrderRejected as error:
        ex.writes.append(_refused(request.client_order_id, error, ex.ctx.clock.now_ms()))
        keep_old_stop()
        if error.code == RejectCode.ORDER_WOULD_IMMEDIATELY_TRIGGER:
            close_position(ex, ClosePosition(position_id=position.id, reason="trailing stop already crossed"))
        return
    except OutcomeUnknown as error:
        # The new stop may rest or not: keep the old one too (a start cancels whichever is not current).
        log.warning("%s new stop %s: outcome unknown (%s); the old stop stays", position.id, request.client_order_id, error)
        return
    if old is not None:  # only after the new stop rests: the position is never unprotected
        try:
            ex.exchange.cancel_order(position.symbol, old)
        except ExchangeError as error:  # gone already, or not now: a start cancels a replaced stop left resting
            log.info("%s old stop %s not cancelled: %s", position.id, old, error)


def close_position(ex: ExecutionActor, command: ClosePosition) -> None:
    position = ex.live.get(command.position_id)
    if position is None or position.state not in LIVE_EXIT_STATES or position.open_quantity <= 0:
        return
    request = _market_exit(ex, position, Purpose.EXIT, position.open_quantity)
    position.close_reason = command.reason
    ex.index(position, Purpose.EXIT, request.client_order_id)
    ex.fire(position, "close", reason=command.reason, changes=dict(details=position.details()),
            also=_order_row(ex, position.id, request.client_order_id, Purpose.EXIT, request))
    try:
        ex.writes.append(_sent(ex.exchange.place_order(request)))
    except OrderRejected as error:
        ex.fire(position, "exit_failed", reason=f"exit order refused: {error.code} {error.message}",
                also=_refused(request.client_order_id, error, ex.ctx.clock.now_ms()))
    except RateLimited as error:  # nothing was sent: the stop-loss still protects it
        ex.fire(position, "exit_failed", reason=f"exit order not sent: {error}",
                also=_not_sent(request.client_order_id, str(error), ex.ctx.clock.now_ms()))
    except OutcomeUnknown as error:
        # Its fill, if it filled, arrives like any other; if it never arrived, the next start undoes the close.
        log.warning("%s exit order outcome unknown (%s)", position.id, error)
