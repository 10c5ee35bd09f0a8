"""The `positions.details` column's typed view: its JSON text, its defaults, its derived figures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from persistence.position_details import PositionDetails

KNOWN = PositionDetails(
    stop_distance=Decimal("150.5"),
    partial_price=Decimal("67300.0"),
    partial_quantity=Decimal("0.004"),
    risk_per_unit=Decimal("150.0"),
    trailing_pct=0.014,
    orders={"tp": "qt-tp-3fa2b1c4d5e6-0", "sl": "qt-sl-3fa2b1c4d5e6-2"},
    numbers={"sl": 2, "tp": 0, "e": 0},
    stop_moves=2,
    closed=Decimal("0.004"),
    entry_cost=Decimal("670.000"),
    exit_cost=Decimal("269.2"),
)
# What the execution engine wrote for KNOWN before the column had an owner: keys sorted, nested ones too.
KNOWN_TEXT = (
    '{"closed": "0.004", "entry_cost": "670.000", "exit_cost": "269.2", "numbers": {"e": 0, "sl": 2, "tp": 0}, '
    '"orders": {"sl": "qt-sl-3fa2b1c4d5e6-2", "tp": "qt-tp-3fa2b1c4d5e6-0"}, "partial_price": "67300.0", '
    '"partial_quantity": "0.004", "risk_per_unit": "150.0", "stop_distance": "150.5", "stop_moves": 2, '
    '"trailing_pct": 0.014}'
)
DEFAULT_TEXT = (
    '{"closed": "0", "entry_cost": "0", "exit_cost": "0", "numbers": {}, "orders": {}, "partial_price": null, '
    '"partial_quantity": "0", "risk_per_unit": "0", "stop_distance": "0", "stop_moves": 0, "trailing_pct": 0.0}'
)


def test_to_json_known_value_exact_text():
    assert KNOWN.to_json() == KNOWN_TEXT


def test_to_json_defaults_exact_text_with_null_partial_price():
    assert PositionDetails().to_json() == DEFAULT_TEXT


def test_from_json_known_text_round_trips_to_equal_view():
    view = PositionDetails.from_json(KNOWN_TEXT)
    assert view == KNOWN
    assert view.to_json() == KNOWN_TEXT


def test_to_json_trailing_start_when_set_round_trips():
    view = PositionDetails(risk_per_unit=Decimal("150.0"), trailing_start=Decimal("75.00"))
    text = view.to_json()
    assert '"trailing_start": "75.00"' in text
    assert PositionDetails.from_json(text) == view


def test_from_json_decimal_text_kept_exactly():
    view = PositionDetails.from_json(KNOWN_TEXT)
    # Decimal("670.000") == Decimal("670") too: the text shows the exponent survived.
    assert str(view.entry_cost) == "670.000" and str(view.partial_price) == "67300.0"


@pytest.mark.parametrize("raw", [None, "", "{}"])
def test_from_json_empty_or_legacy_empty_object_gives_defaults(raw: str | None):
    view = PositionDetails.from_json(raw)
    assert view == PositionDetails()
    assert view.stop_distance == 0 and view.partial_price is None and view.partial_quantity == 0
    assert view.risk_per_unit == 0 and view.trailing_pct == 0.0 and view.stop_moves == 0
    assert dict(view.orders) == {} and dict(view.numbers) == {}
    assert view.closed == 0 and view.entry_cost == 0 and view.exit_cost == 0 and view.risk_at_stop is None


def test_from_json_legacy_row_with_some_keys_defaults_the_others():
    view = PositionDetails.from_json('{"closed": "0.004", "orders": {"sl": "qt-sl-abc-1"}}')
    assert view.closed == Decimal("0.004") and dict(view.orders) == {"sl": "qt-sl-abc-1"}
    assert view.risk_per_unit == 0 and view.partial_price is None and dict(view.numbers) == {}


def test_from_json_null_value_gives_the_default():
    view = PositionDetails.from_json('{"closed": null, "orders": null, "stop_moves": null}')
    assert view.closed == 0 and dict(view.orders) == {} and view.stop_moves == 0


def test_from_json_number_written_as_float_goes_through_its_text():
    assert PositionDetails.from_json('{"closed": 0.1}').closed == Decimal("0.1")


def test_from_json_numbers_as_text_become_ints():
    assert dict(PositionDetails.from_json('{"numbers": {"sl": "3"}}').numbers) == {"sl": 3}


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        '"text"',
        '{"closed": "abc"}',
        '{"closed": true}',
        '{"closed": "NaN"}',
        '{"closed": [1]}',
        '{"stop_moves": 1.5}',
        '{"orders": ["sl"]}',
        '{"orders": {"sl": 3}}',
        '{"numbers": {"sl": "x"}}',
        '{"partial_taken": "yes"}',
        '{"partial_taken": 1}',
    ],
)
def test_from_json_malformed_raises_value_error(raw: str):
    with pytest.raises(ValueError, match=r"positions\.details"):
        PositionDetails.from_json(raw)


def test_to_json_risk_at_stop_written_only_when_set():
    with_risk = PositionDetails(risk_at_stop=Decimal("25"))
    assert '"risk_at_stop": "25"' in with_risk.to_json()
    assert "risk_at_stop" not in PositionDetails().to_json()
    assert PositionDetails.from_json(with_risk.to_json()) == with_risk


def test_to_json_decision_price_written_only_when_known():
    decided = PositionDetails(decision_price=Decimal("40123.4"))
    assert '"decision_price": "40123.4"' in decided.to_json()
    assert "decision_price" not in PositionDetails().to_json()  # older rows keep their text
    assert PositionDetails.from_json(decided.to_json()) == decided
    assert PositionDetails.from_json(DEFAULT_TEXT).decision_price is None


def test_open_quantity_filled_less_closed():
    assert PositionDetails(closed=Decimal("0.004")).open_quantity(Decimal("0.010")) == Decimal("0.006")


def test_initial_risk_risk_per_unit_times_filled():
    assert PositionDetails(risk_per_unit=Decimal("150")).initial_risk(Decimal("0.01")) == Decimal("1.50")


def test_initial_risk_per_unit_wins_over_recorded_money():
    details = PositionDetails(risk_per_unit=Decimal("150"), risk_at_stop=Decimal("99"))
    assert details.initial_risk(Decimal("0.01")) == Decimal("1.50")


def test_initial_risk_no_per_unit_falls_back_to_recorded_money():
    assert PositionDetails(risk_at_stop=Decimal("25")).initial_risk(Decimal("0.01")) == Decimal("25")


def test_initial_risk_nothing_filled_falls_back_to_recorded_money():
    details = PositionDetails(risk_per_unit=Decimal("150"), risk_at_stop=Decimal("25"))
    assert details.initial_risk(Decimal(0)) == Decimal("25")


@pytest.mark.parametrize(
    "details",
    [
        PositionDetails(),
        PositionDetails(risk_per_unit=Decimal(0)),
        PositionDetails(risk_at_stop=Decimal(0)),
    ],
)
def test_initial_risk_unknown_is_none(details: PositionDetails):
    assert details.initial_risk(Decimal("0.01")) is None


def test_initial_risk_no_fill_and_no_money_is_none():
    assert PositionDetails(risk_per_unit=Decimal("150")).initial_risk(Decimal(0)) is None


def test_r_multiple_net_pnl_over_initial_risk():
    assert PositionDetails(risk_per_unit=Decimal("100")).r_multiple(Decimal("-3"), Decimal("0.02")) == -1.5


def test_r_multiple_from_recorded_money_risk():
    assert PositionDetails(risk_at_stop=Decimal("25")).r_multiple(Decimal("-50"), Decimal("0.01")) == -2.0


def test_r_multiple_unknown_risk_is_zero():
    assert PositionDetails().r_multiple(Decimal("40"), Decimal("0.01")) == 0.0


def test_to_json_partial_taken_written_only_when_set_and_round_trips():
    taken = PositionDetails(partial_quantity=Decimal("0.004"), partial_taken=True)
    assert '"partial_taken": true' in taken.to_json()
    assert "partial_taken" not in PositionDetails(partial_quantity=Decimal("0.004")).to_json()
    assert PositionDetails.from_json(taken.to_json()) == taken
    assert PositionDetails.from_json('{"partial_taken": null}').partial_taken is False
