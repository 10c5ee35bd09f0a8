"""A named piece of the service's state (`records.save_state` / `load_state`): written, replaced, read back."""

from __future__ import annotations

from sqlalchemy import Engine

from persistence import records

T0 = 1_700_000_000_000


def test_state_saved_then_saved_again_is_replaced(engine: Engine):
    with engine.begin() as connection:
        records.save_state(connection, "piece", {"b": 1, "a": [1.5, None]}, T0)
        records.save_state(connection, "piece", {"b": 2}, T0 + 1)
        records.save_state(connection, "other", "x", T0 + 2)
    with engine.connect() as connection:
        assert records.load_state(connection, "piece") == {"b": 2}
        assert records.load_state(connection, "other") == "x"
        assert records.load_state(connection, "never") is None
