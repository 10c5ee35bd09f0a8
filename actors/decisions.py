"""One log line per recorded signal decision, whichever actor records it (orchestrator, risk, execution).

ACCEPTED and REJECTED_BY_EXCHANGE are always logged: an order sent, or one the exchange refused, is news to an
operator. Every other decision is logged only with `orchestrator.flags.log_all_signals` on (the default), so a
busy strategy's blocked signals can be kept out of the log while they are still recorded in the database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from actors.messages import DecisionReason

log = logging.getLogger("quantum_trader.decisions")

ALWAYS_LOGGED = frozenset({DecisionReason.ACCEPTED, DecisionReason.REJECTED_BY_EXCHANGE})


def is_logged(reason: str, log_all: bool) -> bool:
    return log_all or reason in ALWAYS_LOGGED


def decision_line(row: Mapping[str, Any]) -> str:
    """`row`: a decision as `persistence.records.insert_decisions` takes it."""
    position = f" -> {row['position_id']}" if row.get("position_id") else ""
    return (
        f"decision {row['reason']}: signal {row['signal_id']} {row['symbol']} {row['side']} "
        f"confidence {row['confidence']:.2f} ({row['source']}){position}: {row['detail']}"
    )


def log_decisions(rows: Iterable[Mapping[str, Any]], *, log_all: bool) -> None:
    for row in rows:
        level = logging.WARNING if row["reason"] == DecisionReason.REJECTED_BY_EXCHANGE else logging.INFO
        if is_logged(row["reason"], log_all) and log.isEnabledFor(level):  # a replay logs errors only: no formatting
            log.log(level, "%s", decision_line(row))
