"""The sizing log line and the risk terms it names, directly (the caplog test through the actors is in
tests/actors/test_operator_logs.py)."""

from __future__ import annotations

from decimal import Decimal

from actors.messages import STATIC_EXIT_MODE, Side, Signal, SymbolFilters, TradingPolicy
from actors.risk.sizing import SizingRejected, size_position
from actors.risk.sizing_log import sizing_line
from actors.risk.terms import risk_terms
from config import ExitMode, Settings

SETTINGS = Settings()
POLICY = TradingPolicy(
    allow_new_trades=True,
    min_confidence=0.6,
    max_risk_pct=0.005,
    exit_mode=ExitMode.DEFENSIVE_TRAIL,
    risk_profile="REDUCED",
    max_open_positions=3,
    max_correlated_positions=1,
    max_symbol_exposure_pct=0.02,
    max_total_exposure_pct=0.05,
)
SIGNAL = Signal(id="sig-7", at=0, symbol="BTCUSDT", side=Side.LONG, confidence=0.9)
BTC = SymbolFilters(
    tick_size=Decimal("0.1"), step_size=Decimal("0.001"), min_qty=Decimal("0.001"), min_notional=Decimal("5")
)


def flags(**values: object):  # type: ignore[no-untyped-def]
    return Settings(orchestrator={"flags": values}).orchestrator.flags


def test_risk_terms_all_from_the_policy_say_so():
    terms = risk_terms(POLICY, flags(), SETTINGS)
    assert terms.describe() == (
        "max risk 0.50%, profile REDUCED, exit DEFENSIVE_TRAIL, limits 3 positions / 1 correlated / "
        "2.0% symbol / 5.0% total exposure (risk, limits, exit mode from the policy)"
    )


def test_risk_terms_flags_off_say_which_come_from_the_profile():
    terms = risk_terms(POLICY, flags(use_for_risk_sizing=False, use_for_exit_mode=False), SETTINGS)
    assert terms.max_risk_pct == SETTINGS.profile.base_risk_pct and terms.exit_mode is STATIC_EXIT_MODE
    assert terms.origin == "limits from the policy; risk, exit mode from the profile"


def test_risk_terms_observe_mode_all_from_the_profile():
    terms = risk_terms(POLICY, flags(mode="OBSERVE"), SETTINGS)
    assert terms.origin == "risk, limits, exit mode from the profile"


def size(equity: str = "10000"):  # type: ignore[no-untyped-def]
    terms = risk_terms(POLICY, flags(), SETTINGS)
    sized = size_position(
        side=Side.LONG,
        price=Decimal("40000"),
        atr=200.0,
        confidence=SIGNAL.confidence,
        equity=Decimal(equity),
        max_risk_pct=terms.max_risk_pct,
        risk_profile=terms.risk_profile,
        profile=SETTINGS.profile,
        risk=SETTINGS.risk,
        exit_params=SETTINGS.exit_modes[terms.exit_mode],
        filters=BTC,
        leverage=SETTINGS.exchange.leverage,
    )
    return terms, sized


def test_sizing_line_sized_order_names_order_risk_terms_and_adjustments():
    terms, sized = size()
    assert not isinstance(sized, SizingRejected)
    line = sizing_line(SIGNAL, Decimal("10000"), terms, sized)
    assert line.startswith("sizing BTCUSDT LONG (signal sig-7, confidence 0.90): ")
    assert f"{sized.quantity} at 40000, stop {sized.stop_price} ({sized.stop_distance} away)" in line
    assert f"risk {sized.risk_pct:.3%} of equity 10000.00 = {sized.risk_usd:.2f}" in line
    assert f"terms: {terms.describe()}" in line
    assert "REDUCED profile x0.7" in line and "confidence 0.90 x1.2" in line  # the adjustments that produced it


def test_sizing_line_rejected_says_why_and_the_terms():
    terms, sized = size(equity="0")
    assert isinstance(sized, SizingRejected)
    line = sizing_line(SIGNAL, Decimal("0"), terms, sized)
    assert line == f"sizing BTCUSDT LONG (signal sig-7, confidence 0.90): not sized: {sized.reason}; terms: " + (
        terms.describe()
    )
