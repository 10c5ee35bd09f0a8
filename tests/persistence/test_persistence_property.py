"""Random trigger sequences on many positions, committed, then reloaded from the database."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from persistence.db import make_engine
from persistence.loading import load_machines
from persistence.migrate import upgrade
from persistence.store import Store
from persistence.tables import POSITIONS, TRANSITIONS
from state_machines import POSITION_TABLE, PositionTrigger, TransitionNotAllowed, gate_machine, position_machine
from tests.conftest import position_values

steps = st.lists(
    st.tuples(st.integers(min_value=0, max_value=7), st.sampled_from(list(PositionTrigger))),
    min_size=1,
    max_size=60,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count=st.integers(min_value=1, max_value=8), steps=steps)
def test_persisted_random_triggers_reload_to_the_same_states(
    count: int, steps: list[tuple[int, PositionTrigger]]
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{Path(directory) / 'qt.db'}")
        upgrade(engine)
        store = Store(engine)
        machine = position_machine()
        models = [store.create_position(machine, position_values(i), reason="signal", at=1) for i in range(count)]
        successes = count  # each creation is a recorded `create` transition
        for at, (index, trigger) in enumerate(steps, start=2):
            model = models[index % count]
            try:
                store.fire(machine, model, trigger, reason="property test", at=at)
            except TransitionNotAllowed:
                continue
            successes += 1
        store.close()

        with engine.connect() as connection:
            rows = dict(connection.execute(select(POSITIONS.c.id, POSITIONS.c.state)).all())
            transitions = connection.execute(select(func.count()).select_from(TRANSITIONS)).scalar_one()
            loaded = load_machines(connection, position_machine(), gate_machine())
        engine.dispose()

    assert rows == {m.entity_id: m.state for m in models}
    assert transitions == successes
    assert loaded.mismatches == ()
    expected_live = {m.entity_id: m.state for m in models if m.state not in POSITION_TABLE.final}
    assert {k: m.state for k, m in loaded.positions.items()} == expected_live
