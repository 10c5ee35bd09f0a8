"""What a replay writes later than the service: its policy snapshots, in batches and all of them at stop."""

from __future__ import annotations

from pathlib import Path

from tests.actors.harness import Harness


def snapshots(h: Harness) -> int:
    return int(h.rows("SELECT count(*) FROM policy_snapshots")[0][0])


def test_the_service_writes_the_policy_in_force_when_it_comes_in_force(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    try:
        h.calm(1)
        assert snapshots(h) == 1
    finally:
        h.stop()


def test_a_replay_writes_its_policy_snapshots_at_stop_at_the_latest(tmp_path: Path) -> None:
    h = Harness(tmp_path, durable_steps=False)
    try:
        h.calm(3)
        assert snapshots(h) == 0  # nothing reads them while a replay runs
        h.system.stop("replay done")
        assert snapshots(h) == 1
        ((note,),) = h.rows("SELECT note FROM policy_snapshots")
        assert note
    finally:
        h.engine.dispose()
