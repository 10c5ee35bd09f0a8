"""A step passed on to its next stage: the copy each hop makes."""

from __future__ import annotations

import pytest

from actors.messages import Side, Signal, Stage, Step


def _signal() -> Signal:
    return Signal(id="s-1", at=60_000, symbol="BTCUSDT", side=Side.LONG, confidence=0.5, source="builtin")


def test_step_at_stage_with_changes_equals_replace() -> None:
    step = Step(at=60_000, correlations=(("BTCUSDT", "ETHUSDT", 0.8),), signals_hold="held")
    changes = {"signals": (_signal(),), "signals_hold": ""}
    moved = step.at_stage(Stage.SIGNALS, changes)
    assert type(moved) is Step
    assert moved == step._replace(stage=Stage.SIGNALS, **changes)
    assert step.stage is Stage.MARKET and step.signals_hold == "held"  # the original is left as it was


def test_step_at_stage_without_changes_moves_only_the_stage() -> None:
    step = Step(at=60_000, signals=(_signal(),))
    assert step.at_stage(Stage.EXITS) == step._replace(stage=Stage.EXITS)


def test_step_at_stage_with_an_unknown_field_raises() -> None:
    with pytest.raises(KeyError):
        Step(at=60_000).at_stage(Stage.POLICY, {"polcy": None})
