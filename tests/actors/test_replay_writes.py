"""What a replay writes later than the service: rows nothing reads while it runs (policy snapshots, order states,
equity snapshots) wait for a batch, a later commit or the stop; transitions and decisions still commit by the
step's end (the signals actor reads them at the next step)."""

from __future__ import annotations

from pathlib import Path

from actors.execution.ids import Purpose
from actors.messages import position_id_for
from tests.actors.harness import WIDE_STOPS, Harness


def count(h: Harness, table: str) -> int:
    return int(h.rows(f"SELECT count(*) FROM {table}")[0][0])


def order_states(h: Harness, position_id: str) -> list[tuple[str, str]]:
    return h.rows("SELECT purpose, status FROM orders WHERE position_id = :p ORDER BY id", p=position_id)


def test_the_service_writes_the_policy_in_force_when_it_comes_in_force(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    try:
        h.calm(1)
        assert count(h, "policy_snapshots") == 1
    finally:
        h.stop()


def test_a_replay_writes_its_policy_snapshots_at_stop_at_the_latest(tmp_path: Path) -> None:
    h = Harness(tmp_path, durable_steps=False)
    try:
        h.calm(3)
        assert count(h, "policy_snapshots") == 0  # nothing reads them while a replay runs
        h.system.stop("replay done")
        assert count(h, "policy_snapshots") == 1
        ((note,),) = h.rows("SELECT note FROM policy_snapshots")
        assert note
    finally:
        h.engine.dispose()


def test_the_service_commits_the_steps_equity_snapshot_at_its_end(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    try:
        h.calm(1)
        assert count(h, "equity_snapshots") == 1
    finally:
        h.stop()


def test_a_replay_holds_an_equity_snapshot_until_its_next_commit_or_stop(tmp_path: Path) -> None:
    h = Harness(tmp_path, durable_steps=False)
    try:
        h.calm(2)
        assert count(h, "equity_snapshots") == 0  # nothing reads them while a replay runs
        h.system.stop("replay done")
        assert count(h, "equity_snapshots") == 1
    finally:
        h.engine.dispose()


def test_a_replay_commits_an_entrys_transitions_and_decision_by_the_steps_end_and_order_states_later(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, durable_steps=False, exit_modes=WIDE_STOPS)
    try:
        h.calm(40)
        signal = h.signal("BTCUSDT", "LONG")
        position = position_id_for(signal)
        h.until(lambda: h.rows("SELECT state FROM positions WHERE id = :p", p=position) == [("open",)], limit=3)
        # The signals actor reads these at the next step: they are durable at once.
        assert [row[:2] for row in h.decisions()] == [(signal, "ACCEPTED")]
        # The entry's send joined its `submit` transition; its fill's state, and the protective orders' sends
        # (their rows written ahead), wait for the next commit.
        assert order_states(h, position) == [
            (Purpose.ENTRY, "NEW"),
            (Purpose.STOP, "PENDING"),
            (Purpose.TAKE_PROFIT, "PENDING"),
            (Purpose.PARTIAL, "PENDING"),
        ]
        h.system.stop("replay done")
        assert order_states(h, position) == [
            (Purpose.ENTRY, "FILLED"),
            (Purpose.STOP, "NEW"),
            (Purpose.TAKE_PROFIT, "NEW"),
            (Purpose.PARTIAL, "NEW"),
        ]
    finally:
        h.engine.dispose()
