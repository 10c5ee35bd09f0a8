"""`status`, `positions`, `transitions`, `decisions` and `policy` in an 80-column terminal: no line longer, no time
folded over two lines; a wide terminal shows the full values."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scripts.service_process import ServiceProcess, command
from tests.actors.harness import WIDE_STOPS
from tests.conftest import SHARED_DATA

WAIT_S = 90
BTC_1H = SHARED_DATA / "candles" / "binance_BTCUSDT_1h_20180407-20180428.csv"
COMMANDS = [("status",), ("positions",), ("transitions",), ("decisions",), ("policy",), ("policy", "--history")]


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real run stopped with positions open (today's times), and a replay of 2018 (times of other days)."""
    workdir = tmp_path_factory.mktemp("run")
    env = os.environ | {
        "QT_DATABASE__URL": f"sqlite:///{workdir / 'live.db'}",
        "QT_FEED__SYNTHETIC_SPEED": "200",
        "QT_EXIT_MODES": json.dumps(WIDE_STOPS),
    }
    service = ServiceProcess(("run",), workdir, env, wait_s=WAIT_S)
    try:
        service.wait_for(": open (entry filled")
    finally:
        assert service.stop() == 0, "".join(service.log)
    out = tmp_path_factory.mktemp("replay")
    replay = subprocess.run(
        command("replay", "--data", str(BTC_1H), "--out", str(out)), capture_output=True, text=True, timeout=600
    )
    assert replay.returncode == 0, replay.stderr
    return {"run": workdir / "live.db", "replay": out / "replay.db"}


def shown(db: Path, columns: int, *args: str) -> str:
    result = subprocess.run(
        command(*args, "--db", str(db)),
        env=os.environ | {"COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def compact_time(iso: str) -> str:
    at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return at.strftime("%H:%M:%S") if at.date() == datetime.now(UTC).date() else at.strftime("%m-%d %H:%M")


@pytest.mark.parametrize("which", ["run", "replay"])
@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_inspection_in_80_columns_no_line_is_longer(databases: dict[str, Path], which: str, args: tuple) -> None:  # type: ignore[type-arg]
    text = shown(databases[which], 80, *args)
    too_long = [line for line in text.splitlines() if len(line) > 80]
    assert not too_long, "\n".join(too_long)
    assert text.strip()


@pytest.mark.parametrize("which", ["run", "replay"])
@pytest.mark.parametrize("args", [("transitions",), ("decisions",), ("policy", "--history")], ids=" ".join)
def test_inspection_in_80_columns_shows_every_time_whole_on_one_line(
    databases: dict[str, Path], which: str, args: tuple[str, ...]
) -> None:
    db = databases[which]
    rows = json.loads(shown(db, 80, *args, "--json"))
    assert rows
    lines = shown(db, 80, *args).splitlines()
    starts = [line.split("  ")[0].strip() for line in lines]
    times = [compact_time(row["at"]) for row in rows]
    assert [start for start in starts if start in set(times)] == times  # each row's time, whole, in order


def test_positions_and_status_in_80_columns_show_short_ids_of_the_open_positions(databases: dict[str, Path]) -> None:
    db = databases["run"]
    open_ids = [p["id"] for p in json.loads(shown(db, 80, "positions", "--open", "--json"))]
    assert open_ids
    for args in (("status",), ("positions", "--open")):
        text = shown(db, 80, *args)
        assert all(position_id[:8] in text and position_id not in text for position_id in open_ids), text


def test_transitions_on_a_wide_terminal_show_full_ids_and_times(databases: dict[str, Path]) -> None:
    db = databases["run"]
    rows = json.loads(shown(db, 240, "transitions", "--json"))
    text = shown(db, 240, "transitions")
    assert all(row["at"] in text for row in rows)
    assert all(row["entity_id"] in text for row in rows)
