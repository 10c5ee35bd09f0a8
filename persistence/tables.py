"""Core `Table` handles for the hot paths (Core statements are ~3x cheaper than ORM flushes)."""

from __future__ import annotations

from sqlalchemy import Table

from persistence import models

POSITIONS: Table = models.Position.__table__  # type: ignore[assignment]
ORDERS: Table = models.Order.__table__  # type: ignore[assignment]
FILLS: Table = models.Fill.__table__  # type: ignore[assignment]
TRANSITIONS: Table = models.Transition.__table__  # type: ignore[assignment]
GATE: Table = models.Gate.__table__  # type: ignore[assignment]
POLICY_SNAPSHOTS: Table = models.PolicySnapshot.__table__  # type: ignore[assignment]
SIGNAL_DECISIONS: Table = models.SignalDecision.__table__  # type: ignore[assignment]
EQUITY_SNAPSHOTS: Table = models.EquitySnapshot.__table__  # type: ignore[assignment]
HEARTBEAT: Table = models.Heartbeat.__table__  # type: ignore[assignment]
OPERATOR_COMMANDS: Table = models.OperatorCommand.__table__  # type: ignore[assignment]
EXCHANGE_STATE: Table = models.ExchangeState.__table__  # type: ignore[assignment]
