"""The position state machine (one model per position, owned by the execution actor)."""

from __future__ import annotations

from enum import StrEnum

from state_machines.table import Edge, Stateful, StateMachine, StateTable, has_reason


class PositionState(StrEnum):
    PENDING_ENTRY = "pending_entry"  # intent and client order id stored, nothing sent yet
    ENTRY_SUBMITTED = "entry_submitted"
    OPEN = "open"  # entry filled; stop-loss and take-profit resting on the exchange
    PARTIALLY_CLOSED = "partially_closed"  # partial take-profit filled
    CLOSING = "closing"  # exit order sent
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # an exchange call whose outcome is not known; resolved by client order id


class PositionTrigger(StrEnum):
    SUBMIT = "submit"
    ENTRY_FILLED = "entry_filled"
    REJECT = "reject"
    CANCEL = "cancel"
    OUTCOME_UNKNOWN = "outcome_unknown"
    PARTIAL_TAKE_PROFIT = "partial_take_profit"
    CLOSE = "close"
    EXIT_FAILED = "exit_failed"
    EXIT_FILLED = "exit_filled"
    RECONCILE = "reconcile"
    REDUCE = "reduce"
    ADOPT = "adopt"
    CHANGE_EXIT_MODE = "change_exit_mode"


S, T = PositionState, PositionTrigger

POSITION_TABLE = StateTable(
    name="position",
    states=tuple(S),
    triggers=tuple(T),
    initial=S.PENDING_ENTRY,
    final=frozenset({S.CLOSED, S.REJECTED, S.CANCELLED}),
    edges=(
        Edge(T.SUBMIT, S.PENDING_ENTRY, S.ENTRY_SUBMITTED),
        # The crash window between commit and send: the exchange has no such order, so it never left.
        Edge(T.CANCEL, S.PENDING_ENTRY, S.CANCELLED),
        Edge(T.REJECT, S.PENDING_ENTRY, S.REJECTED, note="rejected before sending: sizing or filters"),
        Edge(T.OUTCOME_UNKNOWN, S.PENDING_ENTRY, S.UNKNOWN),
        # Found on the exchange with no record of ours (recovery adopts it, with the reason).
        Edge(T.ADOPT, S.PENDING_ENTRY, S.OPEN, guard=has_reason),
        Edge(T.ENTRY_FILLED, S.ENTRY_SUBMITTED, S.OPEN),
        Edge(T.REJECT, S.ENTRY_SUBMITTED, S.REJECTED),
        Edge(T.CANCEL, S.ENTRY_SUBMITTED, S.CANCELLED),
        Edge(T.OUTCOME_UNKNOWN, S.ENTRY_SUBMITTED, S.UNKNOWN),
        Edge(T.RECONCILE, S.ENTRY_SUBMITTED, S.CLOSED, guard=has_reason),
        # Resolving an unknown outcome by looking the order up by client order id.
        Edge(T.ENTRY_FILLED, S.UNKNOWN, S.OPEN),
        Edge(T.REJECT, S.UNKNOWN, S.REJECTED),
        Edge(T.CANCEL, S.UNKNOWN, S.CANCELLED),
        Edge(T.RECONCILE, S.UNKNOWN, S.CLOSED, guard=has_reason),
        # A fill that raced our cancel: the exchange filled it after all, so the position is real.
        Edge(T.ENTRY_FILLED, S.CANCELLED, S.OPEN),
        Edge(T.PARTIAL_TAKE_PROFIT, S.OPEN, S.PARTIALLY_CLOSED),
        Edge(T.CLOSE, S.OPEN, S.CLOSING),
        # The state stays: a more defensive exit mode reached the position (stop, target and trail tightened), and
        # the transition records what changed and why.
        Edge(T.CHANGE_EXIT_MODE, S.OPEN, S.OPEN, guard=has_reason),
        Edge(T.CHANGE_EXIT_MODE, S.PARTIALLY_CLOSED, S.PARTIALLY_CLOSED, guard=has_reason),
        # A resting stop-loss or take-profit filled on the exchange: no exit order of ours was needed.
        Edge(T.EXIT_FILLED, S.OPEN, S.CLOSED),
        Edge(T.RECONCILE, S.OPEN, S.CLOSED, guard=has_reason),
        # Part of it closed on the exchange by someone else (a close by hand, an auto-deleverage): it stays open,
        # smaller, with the reason.
        Edge(T.REDUCE, S.OPEN, S.OPEN, guard=has_reason),
        Edge(T.REDUCE, S.PARTIALLY_CLOSED, S.PARTIALLY_CLOSED, guard=has_reason),
        Edge(T.CLOSE, S.PARTIALLY_CLOSED, S.CLOSING),
        Edge(T.EXIT_FILLED, S.PARTIALLY_CLOSED, S.CLOSED),
        Edge(T.RECONCILE, S.PARTIALLY_CLOSED, S.CLOSED, guard=has_reason),
        Edge(T.EXIT_FILLED, S.CLOSING, S.CLOSED),
        # The exit order was rejected or expired: the position is still there and still protected.
        Edge(T.EXIT_FAILED, S.CLOSING, S.OPEN),
        Edge(T.RECONCILE, S.CLOSING, S.CLOSED, guard=has_reason),
        # Part of it closed on the exchange by someone else while our exit was on its way (or killed before it left):
        # found at a reconcile, which could not start otherwise.
        Edge(T.REDUCE, S.CLOSING, S.CLOSING, guard=has_reason),
    ),
)


class PositionModel(Stateful):
    """The machine's view of one position; the rest of the position lives on its row."""

    __slots__ = ()


def position_machine() -> StateMachine:
    return StateMachine(POSITION_TABLE)
