"""Every strategy's figures, grouped in SQL, against the same figures counted row by row in Python."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert

from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.strategy_records import OTHER, figures_by_strategy
from persistence.tables import POSITIONS, SIGNAL_DECISIONS, STRATEGY_FAULTS

SOURCES = ["builtin", "sma", "inbox"]
SIGNALS = [f"s{i}" for i in range(6)]
REASONS = ["ACCEPTED", "OBSERVED", "LOW_CONFIDENCE", "GATE_PAUSED"]
MONEY = st.decimals(min_value=-50, max_value=50, places=3, allow_nan=False)

decisions = st.lists(st.tuples(st.sampled_from(SIGNALS), st.sampled_from(SOURCES), st.sampled_from(REASONS)))
positions = st.lists(
    st.tuples(st.sampled_from([*SIGNALS, "unknown", None]), st.sampled_from(["open", "closed"]), MONEY, MONEY)
)
faults = st.lists(st.tuples(st.sampled_from(SOURCES), st.booleans()))


def counted_in_python(decided: list, held: list, failed: list) -> dict[str, dict]:
    """The rules of figures_by_strategy, row by row."""
    figures: dict[str, dict] = defaultdict(
        lambda: {
            "decisions": defaultdict(int),
            "signals": set(),
            "positions": 0,
            "closed": 0,
            "wins": 0,
            "net": Decimal(0),
            "faults": 0,
            "disabled": "",
        }
    )
    first_source: dict[str, str] = {}
    for signal_id, source, reason in decided:
        figures[source]["decisions"][reason] += 1
        figures[source]["signals"].add(signal_id)
        first_source.setdefault(signal_id, source)
    for signal_id, state, realized, fees in held:
        one = figures[first_source.get(signal_id or "", OTHER)]
        one["positions"] += 1
        if state == "closed":
            one["closed"] += 1
            one["wins"] += realized - fees > 0
            one["net"] += realized - fees
    for number, (strategy, disabled) in enumerate(failed):
        figures[strategy]["faults"] += 1
        if disabled:
            figures[strategy]["disabled"] = f"fault {number}"
    return {
        source: {**one, "decisions": dict(one["decisions"]), "signals": len(one["signals"])}
        for source, one in figures.items()
    }


@pytest.fixture(scope="module")
def figures_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('figures') / 'figures.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@settings(max_examples=60, deadline=None)
@given(decided=decisions, held=positions, failed=faults)
def test_figures_grouped_in_sql_match_the_rows_counted_one_by_one(
    figures_engine: Engine,
    decided: list,
    held: list,
    failed: list,
) -> None:
    with figures_engine.begin() as connection:
        for table in (SIGNAL_DECISIONS, POSITIONS, STRATEGY_FAULTS):
            connection.execute(delete(table))
        for signal_id, source, reason in decided:
            connection.execute(
                insert(SIGNAL_DECISIONS).values(
                    signal_id=signal_id,
                    at=0,
                    symbol="BTCUSDT",
                    side="LONG",
                    confidence=0.5,
                    source=source,
                    reason=reason,
                    detail="",
                )
            )
        for number, (signal_id, state, realized, fees) in enumerate(held):
            connection.execute(
                insert(POSITIONS).values(
                    id=f"p{number}",
                    symbol="BTCUSDT",
                    side="LONG",
                    state=state,
                    seq=1,
                    client_order_id=f"c{number}",
                    quantity=1,
                    filled_quantity=1,
                    realized_pnl=realized,
                    fees=fees,
                    exit_mode="STATIC",
                    signal_id=signal_id,
                    created_at=0,
                )
            )
        for number, (strategy, disabled) in enumerate(failed):
            connection.execute(
                insert(STRATEGY_FAULTS).values(
                    at=number,
                    strategy=strategy,
                    symbol="BTCUSDT",
                    kind="raised",
                    detail=f"fault {number}",
                    disabled=disabled,
                )
            )
    with figures_engine.connect() as connection:
        got = {
            f.source: {
                "decisions": f.decisions,
                "signals": f.signals,
                "positions": f.positions,
                "closed": f.closed,
                "wins": f.wins,
                "net": f.net_pnl,
                "faults": f.faults,
                "disabled": f.disabled,
            }
            for f in figures_by_strategy(connection)
        }
    assert got == counted_in_python(decided, held, failed)
    assert list(got) == sorted(got)
