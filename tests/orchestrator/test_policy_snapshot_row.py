"""The policy snapshot row: a policy and its inputs are recorded as `dataclasses.asdict` gave them, to the byte."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select

from actors.messages import Regime, SymbolCosts, VolatilityLevel
from actors.orchestrator.policy import PolicyInputs, RiskState, SymbolPerformance, compute_policy
from actors.protections import Cooldown
from config.profiles import DEFAULT_PROFILES, RiskProfileName
from config.sections import RiskSettings
from persistence import records, snapshot_text
from persistence.tables import POLICY_SNAPSHOTS

H = 3_600_000
T0 = 19_700 * 24 * H

INPUTS = PolicyInputs(
    regime=Regime.SIDEWAYS,
    volatility=VolatilityLevel.HIGH,
    risk_state=RiskState(daily_drawdown_pct=-0.0106, open_positions=1, total_exposure_pct=0.004, losing_streak=3),
    performance=(
        SymbolPerformance(symbol="BTCUSDT", closed_trades=10, win_rate=0.3, avg_r=-0.4, pnl=Decimal("-4.10542580")),
        SymbolPerformance(symbol="ETHUSDT", closed_trades=2, win_rate=0.5, avg_r=0.1, pnl=Decimal("1.5")),
    ),
    costs=(
        SymbolCosts(symbol="BTCUSDT", spread_bps=0.0, slippage_bps=2.026517238737063, slippage_fills=20),
        SymbolCosts(symbol="ETHUSDT", spread_bps=None, slippage_bps=None),
    ),
    symbols=("BTCUSDT", "ETHUSDT"),
    gate_hold_reason="",
    cooldowns=(Cooldown("ETHUSDT", T0 + 6 * H, 3, 24.0),),
)


def test_snapshot_row_holds_what_asdict_gave(engine: Engine):
    name = RiskProfileName.SAFE
    policy = compute_policy(INPUTS, DEFAULT_PROFILES[name], name, RiskSettings(performance_min_trades=5))
    assert policy.disallowed_symbols and policy.cooling_down  # every kind of field has something in it
    with engine.begin() as connection:
        records.insert_policy_snapshot(connection, at=T0, enforced=True, policy=policy, inputs=INPUTS, note="n")
        records.insert_policy_snapshot(connection, at=T0 + 1, enforced=False, policy=policy, inputs={}, note="")
        rows = connection.execute(
            select(POLICY_SNAPSHOTS.c.policy, POLICY_SNAPSHOTS.c.inputs).order_by(POLICY_SNAPSHOTS.c.id)
        ).all()
    as_before = json.dumps(dataclasses.asdict(policy), sort_keys=True, default=str)
    assert rows[0] == (as_before, json.dumps(dataclasses.asdict(INPUTS), sort_keys=True, default=str))
    assert rows[1] == (as_before, "{}")


def test_snapshot_rows_whose_inputs_share_or_change_parts_each_hold_their_own(engine: Engine):
    # The text of a tuple the last inputs held is used again only for that same tuple: a new one is encoded anew.
    again = dataclasses.replace(INPUTS, risk_state=RiskState(daily_drawdown_pct=-0.02, open_positions=2))
    changed = dataclasses.replace(
        again,
        costs=(SymbolCosts(symbol="BTCUSDT", spread_bps=-0.0, slippage_bps=3.5, slippage_fills=21),),
        performance=(),
        cooldowns=(Cooldown("BTCUSDT", T0 + 7 * H, 4, 24.0),),
    )
    sequence = [INPUTS, again, changed, INPUTS]
    with engine.begin() as connection:
        records.insert_policy_snapshots(
            connection, [dict(at=T0 + i, enforced=True, policy={}, inputs=v, note="") for i, v in enumerate(sequence)]
        )
        rows = connection.execute(select(POLICY_SNAPSHOTS.c.inputs).order_by(POLICY_SNAPSHOTS.c.id)).scalars().all()
    assert rows == [json.dumps(dataclasses.asdict(v), sort_keys=True, default=str) for v in sequence]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, snapshot_text.KEPT_POLICIES + 3), min_size=1, max_size=3 * snapshot_text.KEPT_POLICIES))
def test_snapshot_rows_policies_met_again_or_anew_each_hold_their_own(engine: Engine, picks: list[int]):
    # The text of a policy met lately is used again only for that same policy; more policies than are kept, and a
    # mapping changed between two rows, are each encoded as they stand.
    name = RiskProfileName.SAFE
    policies = [
        compute_policy(
            dataclasses.replace(INPUTS, risk_state=RiskState(losing_streak=i)),
            DEFAULT_PROFILES[name],
            name,
            RiskSettings(performance_min_trades=5),
        )
        for i in range(snapshot_text.KEPT_POLICIES + 4)
    ]
    mapping: dict[str, int] = {}
    sequence: list[object] = []
    with engine.begin() as connection:
        connection.execute(delete(POLICY_SNAPSHOTS))  # the engine is the test's, met by every example
        for at, pick in enumerate(picks):
            policy: object = policies[pick] if pick <= snapshot_text.KEPT_POLICIES + 2 else mapping
            mapping["at"] = at
            records.insert_policy_snapshots(connection, [dict(at=at, enforced=True, policy=policy, inputs={}, note="")])
            sequence.append(json.dumps(policy if policy is mapping else dataclasses.asdict(policy), sort_keys=True))
        rows = connection.execute(select(POLICY_SNAPSHOTS.c.policy).order_by(POLICY_SNAPSHOTS.c.id)).scalars().all()
    assert rows == sequence


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(), st.text())
def test_snapshot_row_any_reason_text_as_json_dumps_gave(engine: Engine, hold: str, blocked: str):
    # Reasons are free text (an exchange's message, an operator's words): escaped as `json.dumps` escapes them.
    inputs = dataclasses.replace(INPUTS, gate_hold_reason=hold, risk_state=RiskState(exchange_blocked=blocked))
    with engine.begin() as connection:
        connection.execute(delete(POLICY_SNAPSHOTS))
        records.insert_policy_snapshot(connection, at=T0, enforced=True, policy={}, inputs=inputs, note=hold)
        row = connection.execute(select(POLICY_SNAPSHOTS.c.inputs)).scalar_one()
    assert row == json.dumps(dataclasses.asdict(inputs), sort_keys=True, default=str)
