"""User strategies in the real actor system on virtual time: their signals become positions; a strategy that raises,
returns garbage or runs over its budget has its output dropped and recorded, and after repeated failures is disabled
and pauses the gate, while the service runs on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.actors.harness import WIDE_STOPS, Harness
from tests.signals.strategy_files import failing_file, jump_file

WARM = 160  # calm candles before the volatility level settles (as in tests/actors)
JUMP = 0.003  # a candle this much up: the test strategies' signal (small enough not to be EXTREME volatility)


@pytest.fixture
def made() -> Iterator[list[Harness]]:
    harnesses: list[Harness] = []
    yield harnesses
    for harness in harnesses:
        harness.stop()


def start(made: list[Harness], tmp_path: Path, strategies: list[str], **signals: Any) -> Harness:
    harness = Harness(tmp_path, exit_modes=WIDE_STOPS, signals={"strategies": strategies, **signals})
    made.append(harness)
    return harness


def decisions_of(h: Harness, source: str) -> list[tuple[Any, ...]]:
    return h.rows("SELECT signal_id, reason FROM signal_decisions WHERE source = :s ORDER BY id", s=source)


def faults(h: Harness) -> list[tuple[Any, ...]]:
    return h.rows("SELECT strategy, symbol, kind, detail, disabled FROM strategy_faults ORDER BY id")


def test_strategy_file_by_path_signal_goes_through_the_actors_into_a_position(
    made: list[Harness], tmp_path: Path
) -> None:
    path = jump_file(tmp_path)
    h = start(made, tmp_path, [f"{path}:Jump"])
    h.calm(WARM)
    assert decisions_of(h, "jump") == []
    h.step(BTCUSDT=JUMP)
    h.calm(2)
    [(signal_id, reason)] = decisions_of(h, "jump")
    assert reason == "ACCEPTED" and signal_id.startswith("strategy-jump-BTCUSDT-")
    assert h.rows("SELECT state FROM positions WHERE signal_id = :s", s=signal_id) == [("open",)]


def test_strategy_by_import_path_with_params_from_the_settings(
    made: list[Harness], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "userstrats"
    package.mkdir()
    (package / "__init__.py").write_text("")
    jump_file(package, module="jumps")
    monkeypatch.syspath_prepend(str(tmp_path))
    h = start(made, tmp_path, ["userstrats.jumps:Jump"], params={"jump": {"jump": 0.004}})
    h.calm(WARM)
    h.step(BTCUSDT=JUMP)  # not a jump of 0.4%: nothing
    h.calm(1)
    assert decisions_of(h, "jump") == []
    h.step(BTCUSDT=0.005)
    h.calm(2)
    assert [reason for _, reason in decisions_of(h, "jump")] == ["ACCEPTED"]
    assert len(h.rows("SELECT id FROM positions WHERE state = 'open'")) == 1


@pytest.mark.parametrize(
    ("mode", "kind", "words"),
    [
        ("raises", "raised", "ZeroDivisionError: the strategy divided by zero"),
        ("garbage", "garbage", "returned {'symbol'"),
        ("bad_confidence", "garbage", "confidence 1.5 is not a number in [0, 1]"),
        ("slow", "over_budget", "over its budget of 5 ms"),
    ],
)
def test_strategy_failure_output_dropped_recorded_then_disabled_and_gate_paused(
    made: list[Harness], tmp_path: Path, mode: str, kind: str, words: str
) -> None:
    broken = failing_file(tmp_path, mode)
    healthy = jump_file(tmp_path)
    h = start(
        made,
        tmp_path,
        [f"{broken}:Failing", f"{healthy}:Jump"],
        strategy_budget_ms=5,
        strategy_max_failures=2,
    )
    h.calm(WARM)
    h.step(BTCUSDT=JUMP)  # the first failure: dropped and recorded, the other strategy trades
    h.calm(3)
    [first] = faults(h)
    assert first[:3] == ("flaky", "BTCUSDT", kind) and words in first[3] and not first[4]
    assert decisions_of(h, "flaky") == []
    assert [reason for _, reason in decisions_of(h, "jump")] == ["ACCEPTED"]
    assert h.gate()[0] == "open"

    h.step(BTCUSDT=JUMP)  # the second in a row: disabled, and the gate pauses naming it and its error
    h.calm(3)
    last = faults(h)[-1]
    assert last[2] == kind and last[4]
    state, reason, _ = h.gate()
    assert state == "paused" and "strategy flaky disabled after 2 failed candles of its last" in reason
    assert words in reason
    assert decisions_of(h, "flaky") == []

    h.step(BTCUSDT=JUMP)  # the service runs on: candles, decisions (blocked by the paused gate), no more faults
    h.calm(2)
    assert len(faults(h)) == 2
    assert decisions_of(h, "jump")[-1][1] == "BLOCKED_BY_GATE"
    assert h.system.stop_requested.is_set() is False


def test_strategy_that_cannot_be_made_is_disabled_at_start_and_the_gate_pauses(
    made: list[Harness], tmp_path: Path
) -> None:
    path = tmp_path / "broken_init.py"
    path.write_text(
        "from actors.signals.strategy import Strategy\n\n\n"
        "class Broken(Strategy):\n"
        "    name = 'broken'\n\n"
        "    def __init__(self, params):\n"
        "        raise RuntimeError('no model file')\n"
    )
    h = start(made, tmp_path, [f"{path}:Broken"])
    h.calm(2)
    [(strategy, _, kind, detail, disabled)] = faults(h)
    assert (strategy, kind, disabled) == ("broken", "not_started", True) and "RuntimeError: no model file" in detail
    state, reason, _ = h.gate()
    assert state == "paused" and "strategy broken disabled" in reason
