"""Position sizing: seed 000's four scenarios, clamps, rounding and rejections."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from actors.messages import Side
from actors.risk.sizing import (
    SizedOrder,
    SizingRejected,
    SymbolFilters,
    confidence_factor,
    final_risk_pct,
    round_entry_price,
    seed_risk_pct,
    size_position,
)
from actors.rounding import round_down_to_step, round_price_toward
from config.profiles import DEFAULT_EXIT_MODES, DEFAULT_PROFILES, ExitMode, RiskProfileName
from config.sections import RiskSettings

SAFE_PROFILE = DEFAULT_PROFILES[RiskProfileName.SAFE]
FAST_TP = DEFAULT_EXIT_MODES[ExitMode.FAST_TP]
WIDE = RiskSettings(max_position_usd=Decimal("100000"))
BTC = SymbolFilters(
    tick_size=Decimal("0.1"), step_size=Decimal("0.001"), min_qty=Decimal("0.001"), min_notional=Decimal("5")
)
ALT = SymbolFilters(
    tick_size=Decimal("0.01"), step_size=Decimal("0.001"), min_qty=Decimal("0.001"), min_notional=Decimal("5")
)


def as_fraction(printed: str) -> Decimal:
    return Decimal(printed.rstrip("%")) / 100


# --- seed 000, "Example Scenarios" (base 1.00%, SAFE) ------------------------------------------

SEED_SCENARIOS = [
    # (policy multiplier, risk profile, confidence, final risk as printed in the seed)
    pytest.param(1.0, "SAFE", 0.75, "1.00%", id="normal"),
    pytest.param(0.5, "REDUCED", 0.80, "0.35%", id="high-volatility"),
    pytest.param(0.3, "SAFE", 0.85, "0.36%", id="losing-streak"),
    pytest.param(0.2, "NO_NEW_TRADES", 0.60, "0.016%", id="extreme-risk"),
]


@pytest.mark.parametrize(("multiplier", "profile", "confidence", "printed"), SEED_SCENARIOS)
def test_seed_risk_pct_seed_scenarios_reproduce_printed_risk(multiplier, profile, confidence, printed):
    value = seed_risk_pct(0.01, multiplier, profile, confidence)
    decimals = len(printed.split(".")[1]) - 1
    assert f"{value:.{decimals}%}" == printed
    assert Decimal(str(value)) == as_fraction(printed)


@pytest.mark.parametrize(("multiplier", "profile", "confidence", "printed"), SEED_SCENARIOS)
def test_final_risk_pct_seed_scenarios_within_safe_clamp_unchanged(multiplier, profile, confidence, printed):
    value, _ = final_risk_pct(
        max_risk_pct=0.01 * multiplier, risk_profile=profile, confidence=confidence, profile=SAFE_PROFILE
    )
    assert Decimal(str(value)) == as_fraction(printed)


def test_size_position_seed_scenario2_risks_35_usd_on_10k():
    order = size_position(
        side=Side.LONG,
        price=Decimal("3245.50"),
        atr=87.30,
        confidence=0.80,
        equity=Decimal("10000"),
        max_risk_pct=0.005,
        risk_profile="REDUCED",
        profile=SAFE_PROFILE,
        risk=WIDE,
        exit_params=FAST_TP,
        filters=ALT,
        leverage=10,
    )
    assert isinstance(order, SizedOrder)
    assert order.risk_pct == 0.0035
    assert order.risk_usd == Decimal("35")
    assert order.risk_at_stop <= order.risk_usd
    assert any("REDUCED profile x0.7" in note for note in order.adjustments)


@pytest.mark.parametrize(
    ("confidence", "factor"), [(0.95, 1.2), (0.85, 1.2), (0.8499, 1.0), (0.61, 1.0), (0.60, 0.8), (0.45, 0.8)]
)
def test_confidence_factor_boundaries_match_seed(confidence, factor):
    assert confidence_factor(confidence) == factor


def test_final_risk_pct_above_profile_max_is_clamped():
    value, notes = final_risk_pct(max_risk_pct=0.02, risk_profile="AGGRESSIVE", confidence=0.9, profile=SAFE_PROFILE)
    assert value == 0.012
    assert any("clamped" in note for note in notes)


def test_final_risk_pct_below_profile_min_is_raised():
    value, _ = final_risk_pct(max_risk_pct=0.0005, risk_profile="NO_NEW_TRADES", confidence=0.5, profile=SAFE_PROFILE)
    assert value == SAFE_PROFILE.min_risk_pct


# --- the sizing chain ------------------------------------------------------------------------


def size(**overrides: Any) -> SizedOrder | SizingRejected:
    args: dict[str, Any] = dict(
        side=Side.LONG,
        price=Decimal("50000"),
        atr=500.0,
        confidence=0.75,
        equity=Decimal("10000"),
        max_risk_pct=0.01,
        risk_profile="SAFE",
        profile=SAFE_PROFILE,
        risk=WIDE,
        exit_params=FAST_TP,
        filters=BTC,
        leverage=10,
    )
    return size_position(**(args | overrides))


def test_size_position_atr_stop_quantity_is_risk_over_distance():
    order = size()
    assert isinstance(order, SizedOrder)
    assert order.stop_distance == Decimal("750")  # 500 x 1.5, under FAST_TP's 3% cap of 1500
    assert order.stop_price == Decimal("49250")
    assert order.quantity == Decimal("0.133")  # 100 / 750 = 0.1333..., down to the step
    assert order.notional == Decimal("6650")
    assert order.risk_usd == Decimal("100")
    assert order.risk_at_stop == Decimal("99.75")


@pytest.mark.parametrize(
    ("mode", "distance", "quantity"),
    [
        (ExitMode.TREND_FOLLOW, "1000", "0.100"),
        (ExitMode.FAST_TP, "750", "0.133"),
        (ExitMode.DEFENSIVE_TRAIL, "500", "0.200"),
    ],
)
def test_size_position_each_mode_stops_at_its_own_atr_multiple(mode, distance, quantity):
    order = size(exit_params=DEFAULT_EXIT_MODES[mode])  # ATR 500: 2, 1.5 and 1 ATR, each under its cap
    assert isinstance(order, SizedOrder)
    assert order.stop_distance == Decimal(distance)
    assert order.quantity == Decimal(quantity)  # the same 100 USD at risk over each distance


def test_size_position_short_stop_above_entry():
    order = size(side=Side.SHORT)
    assert isinstance(order, SizedOrder)
    assert order.stop_price == Decimal("50750")
    assert order.quantity == Decimal("0.133")


def test_size_position_wide_atr_capped_at_exit_mode_stop():
    order = size(price=Decimal("100"), atr=5.0, filters=ALT)
    assert isinstance(order, SizedOrder)
    assert order.stop_distance == Decimal("3")  # 7.5 from ATR, capped at 3% of 100
    assert order.quantity == Decimal("33.333")
    assert any("capped at 3.0% of price" in note for note in order.adjustments)


def test_size_position_stop_rounds_toward_entry():
    long = size(price=Decimal("100"), atr=0.333, filters=ALT)
    short = size(side=Side.SHORT, price=Decimal("100"), atr=0.333, filters=ALT)
    assert isinstance(long, SizedOrder) and isinstance(short, SizedOrder)
    assert long.stop_price == Decimal("99.51")  # 99.5005 rounded up, toward the entry
    assert short.stop_price == Decimal("100.49")  # 100.4995 rounded down, toward the entry
    assert long.risk_at_stop <= long.risk_usd and short.risk_at_stop <= short.risk_usd


def test_size_position_entry_price_rounds_against_taker():
    long = size(price=Decimal("50000.07"))
    short = size(side=Side.SHORT, price=Decimal("50000.03"))
    assert isinstance(long, SizedOrder) and isinstance(short, SizedOrder)
    assert long.entry_price == Decimal("50000.0")
    assert short.entry_price == Decimal("50000.1")


def test_size_position_max_position_size_clamps_notional():
    order = size(risk=RiskSettings(max_position_usd=Decimal("5000")), leverage=5)
    assert isinstance(order, SizedOrder)
    assert order.notional == Decimal("5000")
    assert order.quantity == Decimal("0.1")
    assert any("max position size" in note for note in order.adjustments)


def test_size_position_account_leverage_clamps_notional():
    order = size(
        equity=Decimal("500"),
        price=Decimal("100"),
        atr=0.1,
        filters=ALT,
        risk=RiskSettings(max_position_usd=Decimal("5000")),
        leverage=3,
    )
    assert isinstance(order, SizedOrder)
    assert order.notional == Decimal("1500")  # 3x of 500 equity, below the 5000 max size
    assert any("clamped to 1500.00 USD (account leverage 3x of equity 500.00)" in note for note in order.adjustments)


def test_size_position_leverage_ceiling_counts_what_is_already_open():
    order = size(
        equity=Decimal("500"), price=Decimal("100"), atr=0.1, filters=ALT, leverage=3, open_notional=Decimal("1200")
    )
    assert isinstance(order, SizedOrder)
    assert order.notional == Decimal("300")  # 1500 the account allows, 1200 of it already open
    assert any("1200.00 already open" in note for note in order.adjustments)


def test_size_position_no_margin_left_rejected():
    result = size(equity=Decimal("500"), leverage=3, open_notional=Decimal("1500"))
    assert isinstance(result, SizingRejected)
    assert result.reason.startswith("no margin left at the account's leverage 3x: open notional 1500.00 of 1500.00")


def test_size_position_small_notional_raised_to_min_position():
    order = size(
        equity=Decimal("500"),
        price=Decimal("100"),
        atr=5.0,
        filters=ALT,
        max_risk_pct=0.005,
        risk_profile="NO_NEW_TRADES",
        confidence=0.5,
        risk=RiskSettings(),
    )
    assert isinstance(order, SizedOrder)
    assert order.notional == Decimal("10")
    assert order.quantity == Decimal("0.1")
    assert any("raised to min position" in note for note in order.adjustments)


def test_size_position_min_position_too_risky_rejected():
    result = size(
        equity=Decimal("100"),
        price=Decimal("100"),
        atr=5.0,
        filters=ALT,
        risk=RiskSettings(min_position_usd=Decimal("1000"), max_position_usd=Decimal("5000")),
        leverage=20,
    )
    assert isinstance(result, SizingRejected)
    assert "exceeds the profile maximum" in result.reason


def test_size_position_min_position_above_leverage_ceiling_rejected():
    result = size(equity=Decimal("1"), risk=RiskSettings(min_position_usd=Decimal("10")), leverage=5)
    assert isinstance(result, SizingRejected)
    assert result.reason == "min position 10 USD exceeds the 5.00 USD that account leverage 5x of equity 1.00 allows"


def test_size_position_quantity_rounding_to_zero_rejected():
    coarse = SymbolFilters(tick_size=Decimal("0.1"), step_size=Decimal("1"), min_qty=Decimal("1"))
    result = size(
        filters=coarse,
        risk=RiskSettings(min_position_usd=Decimal("0"), max_position_usd=Decimal("1e6")),
    )
    assert isinstance(result, SizingRejected)
    assert "below min qty 1" in result.reason


def test_size_position_below_exchange_min_notional_rejected():
    picky = SymbolFilters(
        tick_size=Decimal("0.01"), step_size=Decimal("0.001"), min_qty=Decimal("0.001"), min_notional=Decimal("100")
    )
    result = size(
        price=Decimal("100"),
        atr=5.0,
        filters=picky,
        equity=Decimal("1000"),
        max_risk_pct=0.005,
        risk_profile="NO_NEW_TRADES",
    )
    assert isinstance(result, SizingRejected)
    assert "below the exchange minimum 100" in result.reason


def test_size_position_stop_inside_one_tick_rejected():
    result = size(atr=0.01)  # 0.015 stop distance at a 0.1 tick
    assert isinstance(result, SizingRejected)
    assert "rounds to nothing" in result.reason


@pytest.mark.parametrize("atr", [0.0, float("nan"), -1.0])
def test_size_position_no_atr_rejected(atr):
    result = size(atr=atr)
    assert isinstance(result, SizingRejected)
    assert "no ATR" in result.reason


def test_size_position_no_equity_rejected():
    assert isinstance(size(equity=Decimal("0")), SizingRejected)


# --- one leverage: a sized order never needs more than the account's leverage allows -------------------------

money = st.decimals(min_value=Decimal("1"), max_value=Decimal("1000000"), places=2)
FILTER_CHOICES = [
    BTC,
    ALT,
    SymbolFilters(tick_size=Decimal("0.0001"), step_size=Decimal("1"), min_qty=Decimal("1"), min_notional=Decimal("5")),
    SymbolFilters(tick_size=Decimal("0.01"), step_size=Decimal("0.1"), min_qty=Decimal("0.1")),
]


@st.composite
def sizing_cases(draw: st.DrawFn) -> dict[str, Any]:
    equity = draw(money)
    leverage = draw(st.one_of(st.integers(min_value=1, max_value=5), st.integers(min_value=1, max_value=125)))
    price = draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2))
    minimum = draw(st.decimals(min_value=Decimal("0"), max_value=Decimal("100"), places=2))
    return dict(
        side=draw(st.sampled_from(list(Side))),
        price=price,
        # Tight stops too: they buy the big quantities that the leverage ceiling has to clamp.
        atr=float(price) * draw(st.sampled_from([0.0003, 0.001, 0.005, 0.02, 0.1])) * draw(st.floats(0.5, 1.5)),
        confidence=draw(st.floats(min_value=0.0, max_value=1.0)),
        equity=equity,
        max_risk_pct=draw(st.floats(min_value=0.005, max_value=0.02)),
        risk_profile=draw(st.sampled_from(["SAFE", "REDUCED", "NO_NEW_TRADES", "FALLBACK"])),
        profile=draw(st.sampled_from(list(DEFAULT_PROFILES.values()))),
        risk=RiskSettings(min_position_usd=minimum, max_position_usd=minimum + draw(money)),
        exit_params=draw(st.sampled_from(list(DEFAULT_EXIT_MODES.values()))),
        filters=draw(st.sampled_from(FILTER_CHOICES)),
        leverage=leverage,
        open_notional=equity * leverage * Decimal(draw(st.integers(min_value=0, max_value=120))) / 100,
    )


@settings(max_examples=400, deadline=None)
@given(case=sizing_cases())
def test_size_position_never_exceeds_the_account_leverage(case: dict[str, Any]) -> None:
    order = size_position(**case)
    if isinstance(order, SizingRejected):
        event("rejected")
        return
    event("clamped by the account's leverage" if any("leverage" in a for a in order.adjustments) else "sized")
    assert order.notional == order.quantity * order.entry_price
    assert order.notional + case["open_notional"] <= case["equity"] * case["leverage"]
    assert order.notional <= case["risk"].max_position_usd
    assert order.risk_at_stop <= case["equity"] * Decimal(repr(case["profile"].max_risk_pct))


# --- rounding helpers ------------------------------------------------------------------------


def test_round_down_to_step_never_rounds_up():
    assert round_down_to_step(Decimal("0.0459999"), Decimal("0.001")) == Decimal("0.045")


def test_round_price_toward_reference_both_directions():
    assert round_price_toward(Decimal("99.5005"), Decimal("0.01"), Decimal("100")) == Decimal("99.51")
    assert round_price_toward(Decimal("100.4995"), Decimal("0.01"), Decimal("100")) == Decimal("100.49")


def test_round_entry_price_is_side_aware():
    assert round_entry_price(Decimal("10.005"), Decimal("0.01"), Side.LONG) == Decimal("10.00")
    assert round_entry_price(Decimal("10.005"), Decimal("0.01"), Side.SHORT) == Decimal("10.01")


def test_symbol_filters_zero_tick_rejected():
    with pytest.raises(ValueError):
        SymbolFilters(tick_size=Decimal(0), step_size=Decimal("0.001"), min_qty=Decimal("0.001"))
