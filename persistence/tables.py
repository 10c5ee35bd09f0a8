"""Core `Table` handles for the hot paths (Core statements are ~3x cheaper than ORM flushes).

SQLAlchemy types a model's `__table__` as a `FromClause`; a declarative model's is always a `Table`.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from persistence import models

POSITIONS = cast(Table, models.Position.__table__)
ORDERS = cast(Table, models.Order.__table__)
FILLS = cast(Table, models.Fill.__table__)
TRANSITIONS = cast(Table, models.Transition.__table__)
GATE = cast(Table, models.Gate.__table__)
POLICY_SNAPSHOTS = cast(Table, models.PolicySnapshot.__table__)
SIGNAL_DECISIONS = cast(Table, models.SignalDecision.__table__)
STRATEGY_FAULTS = cast(Table, models.StrategyFault.__table__)
EQUITY_SNAPSHOTS = cast(Table, models.EquitySnapshot.__table__)
HEARTBEAT = cast(Table, models.Heartbeat.__table__)
OPERATOR_COMMANDS = cast(Table, models.OperatorCommand.__table__)
EXCHANGE_STATE = cast(Table, models.ExchangeState.__table__)
SERVICE_STATE = cast(Table, models.ServiceState.__table__)
ACCOUNT_LEASE = cast(Table, models.AccountLease.__table__)
LEASE_STANDBYS = cast(Table, models.LeaseStandby.__table__)
