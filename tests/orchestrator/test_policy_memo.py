"""The policy's facts (what `compute_policy` reads of its inputs) and the memo the actor keeps of them."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import event, given, settings
from hypothesis import strategies as st

from actors.messages import Regime, SymbolCosts, VolatilityLevel
from actors.orchestrator.policy import (
    PolicyInputs,
    RiskState,
    SymbolPerformance,
    compute_policy,
    desired_gate,
    policy_facts,
)
from actors.orchestrator.policy_memo import MEMO_SIZE, PolicyMemo
from actors.protections import Cooldown
from config.profiles import DEFAULT_PROFILES, RiskProfileName
from config.sections import RiskSettings

NAME = RiskProfileName.MODERATE
PROFILE = DEFAULT_PROFILES[NAME]
RISK = RiskSettings(performance_min_trades=3)
SYMBOLS = ("BTCUSDT", "ETHUSDT")

# Figures on both sides of the profile's limits, so that some draws hold a limit and some do not.
figures = st.one_of(st.floats(min_value=-0.3, max_value=0.3), st.sampled_from((0.0, -0.04, -0.05, 0.15, -0.15)))
reasons = st.sampled_from(("", "rate limit (418)"))
risk_states = st.builds(
    RiskState,
    daily_drawdown_pct=figures,
    open_positions=st.integers(0, 6),
    total_exposure_pct=figures,
    losing_streak=st.integers(0, 6),
    exchange_blocked=reasons,
    execution_hold=reasons,
    peak_drawdown_pct=figures,
    equity_floor_breach=reasons,
    strategy_hold=reasons,
)
performances = st.lists(
    st.builds(
        SymbolPerformance,
        symbol=st.sampled_from(SYMBOLS),
        closed_trades=st.integers(1, 5),
        win_rate=st.sampled_from((0.0, 0.2, 0.6)),
        avg_r=st.sampled_from((-1.0, 0.3, 1.2)),
        pnl=st.sampled_from((Decimal(-5), Decimal(7))),
    ),
    max_size=2,
).map(tuple)
costs = st.lists(
    st.builds(
        SymbolCosts,
        symbol=st.sampled_from(SYMBOLS),
        spread_bps=st.sampled_from((None, 2.0, 40.0)),
        slippage_bps=st.sampled_from((None, 1.0, 60.0)),
        slippage_fills=st.integers(0, 8),
    ),
    max_size=2,
).map(tuple)
cooldowns = st.lists(
    st.builds(
        Cooldown,
        symbol=st.sampled_from(SYMBOLS),
        until=st.sampled_from((1_700_000_000_000, 1_700_003_600_000)),
        stop_outs=st.integers(3, 4),
        window_h=st.just(24.0),
    ),
    max_size=1,
).map(tuple)
inputs = st.builds(
    PolicyInputs,
    regime=st.sampled_from(Regime),
    volatility=st.sampled_from(VolatilityLevel),
    risk_state=risk_states,
    performance=performances,
    costs=costs,
    symbols=st.just(SYMBOLS),
    gate_hold_reason=st.sampled_from(("", "Daily DD limit hit (-2.61%)")),
    cooldowns=cooldowns,
)


@st.composite
def input_pairs(draw: st.DrawFn) -> tuple[PolicyInputs, PolicyInputs]:
    """Two inputs, the second most often the first with its running figures moved (as a price move does)."""
    first = draw(inputs)
    if draw(st.booleans()):
        return first, draw(inputs)
    moved = replace(
        first.risk_state,
        daily_drawdown_pct=draw(figures),
        total_exposure_pct=draw(figures),
        peak_drawdown_pct=draw(figures),
    )
    return first, replace(first, risk_state=moved)


def policy(of: PolicyInputs):
    return compute_policy(of, PROFILE, NAME, RISK)


@settings(max_examples=400, deadline=None)
@given(input_pairs())
def test_policy_facts_equal_make_equal_policy_and_gate(pair: tuple[PolicyInputs, PolicyInputs]):
    first, second = pair
    alike = policy_facts(first, PROFILE) == policy_facts(second, PROFILE)
    event(f"facts equal: {alike}")
    if alike:
        assert policy(first) == policy(second)  # the note too
        assert desired_gate(first, PROFILE) == desired_gate(second, PROFILE)


@settings(max_examples=200, deadline=None)
@given(st.lists(inputs, min_size=1, max_size=MEMO_SIZE), st.lists(st.integers(0, 3 * MEMO_SIZE), max_size=60))
def test_policy_memo_any_sequence_same_as_computing_afresh(pool: list[PolicyInputs], order: list[int]):
    # Inputs come back (the same object, or an equal one), and more kinds than the memo holds push the oldest out.
    memo = PolicyMemo(PROFILE, NAME, RISK)
    for index in order:
        given_inputs = pool[index % len(pool)] if index < 2 * MEMO_SIZE else replace(pool[index % len(pool)])
        assert memo.policy(given_inputs) == policy(given_inputs)
        assert memo.gate(given_inputs) == desired_gate(given_inputs, PROFILE)


def test_policy_memo_limit_reached_then_cleared_policy_follows():
    calm = PolicyInputs(regime=Regime.TRENDING_UP, volatility=VolatilityLevel.NORMAL, symbols=SYMBOLS)
    down = replace(calm, risk_state=RiskState(daily_drawdown_pct=-0.0461))
    further = replace(calm, risk_state=RiskState(daily_drawdown_pct=-0.0474))
    memo = PolicyMemo(PROFILE, NAME, RISK)

    assert memo.policy(calm).allow_new_trades is True
    assert memo.policy(down).allow_new_trades is False
    assert "(-4.61%)" in memo.policy(down).note
    assert "(-4.74%)" in memo.policy(further).note  # the figure the note shows is a fact
    assert memo.gate(further) == desired_gate(further, PROFILE)
    assert memo.policy(calm) == policy(calm)


def test_policy_memo_figures_within_limits_same_policy_object():
    calm = PolicyInputs(regime=Regime.TRENDING_UP, volatility=VolatilityLevel.NORMAL, symbols=SYMBOLS)
    moved = replace(calm, risk_state=RiskState(daily_drawdown_pct=-0.004, total_exposure_pct=0.03))
    memo = PolicyMemo(PROFILE, NAME, RISK)

    assert memo.policy(moved) is memo.policy(calm)


def test_facts_differing_only_in_records_share_a_hash_but_are_not_equal():
    # The records' tuples are left out of the hash (compared only), so a look-up never hashes every record.
    inputs = PolicyInputs(regime=Regime.SIDEWAYS, volatility=VolatilityLevel.LOW, symbols=SYMBOLS)
    facts = policy_facts(inputs, PROFILE)
    other = policy_facts(
        replace(inputs, costs=(SymbolCosts(symbol="BTCUSDT", spread_bps=40.0, slippage_bps=None),)), PROFILE
    )
    assert hash(facts) == hash(other)
    assert facts != other
    assert {facts: 1, other: 2}[other] == 2
