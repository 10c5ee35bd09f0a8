"""Realised slippage: signed against the taker, measured against the decision (entries) or trigger (exits) price,
and a symbol's recent mean over its window of fills and a day."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.execution.ids import Purpose
from actors.execution.slippage import (
    SLIPPAGE_MAX_AGE_MS,
    SlippageRecords,
    SlippageSample,
    measured_fill,
    slippage_bps,
)
from exchange.port import OrderSide

D = Decimal


@pytest.mark.parametrize(
    ("side", "price", "bps"),
    [
        (OrderSide.BUY, "40008", 2.0),  # a buy above its price cost 2 bps
        (OrderSide.BUY, "39992", -2.0),  # ...below it gained
        (OrderSide.SELL, "39992", 2.0),  # a sell below its price cost
        (OrderSide.SELL, "40000", 0.0),
    ],
)
def test_slippage_bps_is_a_cost_when_against_the_taker(side: OrderSide, price: str, bps: float) -> None:
    assert slippage_bps(side, D("40000"), D(price)) == pytest.approx(bps)


def test_slippage_bps_refuses_a_price_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        slippage_bps(OrderSide.BUY, D(0), D(1))


def fill(purpose: str, **changes: object) -> SlippageSample | None:
    values: dict[str, object] = dict(
        key="qt-x-1",
        symbol="BTCUSDT",
        purpose=purpose,
        side=OrderSide.SELL,
        average_price=D("39990"),
        trigger_price=D("40000"),
        decision_price=D("39000"),
        at=5,
    )
    return measured_fill(**(values | changes))  # type: ignore[arg-type]


def test_measured_fill_exits_against_their_trigger_entries_against_their_decision_price() -> None:
    for purpose in (Purpose.STOP, Purpose.TAKE_PROFIT, Purpose.PARTIAL):
        sample = fill(purpose)
        assert sample is not None and sample.bps == pytest.approx(2.5)  # sold 10 under the 40000 trigger
    entry = fill(Purpose.ENTRY, side=OrderSide.BUY, average_price=D("39039"))
    assert entry is not None and entry.bps == pytest.approx(10.0)  # bought 39 over the 39000 it was decided at
    assert (entry.symbol, entry.at, entry.key) == ("BTCUSDT", 5, "qt-x-1")


def test_measured_fill_without_a_price_to_measure_against_is_none() -> None:
    assert fill(Purpose.EXIT) is None  # our market exits have no decision price on record
    assert fill(Purpose.ENTRY, decision_price=None) is None  # rows from before decision prices were kept
    assert fill(Purpose.STOP, trigger_price=None) is None
    assert fill(Purpose.STOP, average_price=None) is None


def sample(at: int, bps: float, key: str, symbol: str = "BTCUSDT") -> SlippageSample:
    return SlippageSample(symbol=symbol, at=at, bps=bps, key=key)


def test_slippage_records_mean_over_the_last_window_fills_per_symbol() -> None:
    records = SlippageRecords(window=3)
    assert records.measure("BTCUSDT", 10) == (None, 0)
    for index, bps in enumerate((100.0, 1.0, 2.0, 3.0)):
        records.add(sample(index, bps, f"k{index}"))
    records.add(sample(1, 50.0, "x", symbol="ETHUSDT"))
    mean, fills = records.measure("BTCUSDT", 10)
    assert (mean, fills) == (pytest.approx(2.0), 3)  # the 100 bps fill left the window of 3
    assert records.measure("ETHUSDT", 10) == (50.0, 1)


def test_slippage_records_an_order_told_twice_counts_once() -> None:
    records = SlippageRecords(window=5)
    assert records.add(sample(1, 8.0, "qt-sl-abc-0"))
    assert not records.add(sample(2, 8.0, "qt-sl-abc-0"))
    assert records.measure("BTCUSDT", 3) == (8.0, 1)


def test_slippage_records_fills_older_than_a_day_leave_the_measure() -> None:
    records = SlippageRecords(window=20)
    records.add(sample(0, 40.0, "old"))
    records.add(sample(SLIPPAGE_MAX_AGE_MS // 2, 4.0, "new"))
    assert records.measure("BTCUSDT", SLIPPAGE_MAX_AGE_MS - 1) == (22.0, 2)
    assert records.measure("BTCUSDT", SLIPPAGE_MAX_AGE_MS) == (4.0, 1)
    assert records.measure("BTCUSDT", 2 * SLIPPAGE_MAX_AGE_MS) == (None, 0)  # a disallowed symbol comes back
    records.add(sample(2 * SLIPPAGE_MAX_AGE_MS, 6.0, "next"))  # a new fill counts at once, at the same moment
    assert records.measure("BTCUSDT", 2 * SLIPPAGE_MAX_AGE_MS) == (6.0, 1)


def test_slippage_records_need_a_window_of_one_fill_at_least() -> None:
    with pytest.raises(ValueError):
        SlippageRecords(window=0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=3 * SLIPPAGE_MAX_AGE_MS // 2),  # how far the clock moves first
            st.sampled_from(("BTCUSDT", "ETHUSDT", "SOLUSDT", None)),  # a fill of this symbol then, or none
            st.floats(min_value=-50, max_value=50),
        ),
        max_size=40,
    )
)
def test_slippage_records_measure_all_is_each_symbols_measure_asked_afresh(
    moves: list[tuple[int, str | None, float]],
) -> None:
    records, added = SlippageRecords(window=3), []
    symbols = ("BTCUSDT", "ETHUSDT")
    now = 0
    for index, (step, symbol, bps) in enumerate(moves):
        now += step
        if symbol is not None:
            added.append(sample(now, bps, f"k{index}", symbol=symbol))
            records.add(added[-1])
        fresh = SlippageRecords(window=3)  # nothing cached: the plain computation
        for known in added:
            fresh.add(known)
        assert records.measure_all(symbols, now) == tuple(fresh.measure(symbol, now) for symbol in symbols)


def test_slippage_records_measure_all_hands_on_the_same_figures_until_one_can_change() -> None:
    records = SlippageRecords(window=3)
    records.add(sample(0, 4.0, "a"))
    first = records.measure_all(("BTCUSDT",), 10)
    assert records.measure_all(("BTCUSDT",), SLIPPAGE_MAX_AGE_MS - 1) is first
    assert records.measure_all(("BTCUSDT",), SLIPPAGE_MAX_AGE_MS) == ((None, 0),)  # the fill left the day
    later = records.measure_all(("BTCUSDT",), SLIPPAGE_MAX_AGE_MS + 1)
    records.add(sample(SLIPPAGE_MAX_AGE_MS + 1, 2.0, "b"))
    assert records.measure_all(("BTCUSDT",), SLIPPAGE_MAX_AGE_MS + 1) == ((2.0, 1),) != later
