"""Notifications from a real `run` on paper to a receiver on 127.0.0.1, and a channel that hangs costing no step."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

from scripts.service_process import ServiceProcess, command
from tests.actors.harness import WIDE_STOPS
from tests.service.receivers import hanging_receiver, json_receiver

WAIT_S = 90
SUMMARY = re.compile(r"summary \(last \d+s\): (\d+) candle\(s\)")


def run_env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    return os.environ | {
        "QT_DATABASE__URL": f"sqlite:///{tmp_path / 'live.db'}",
        "QT_FEED__SYNTHETIC_SPEED": "200",
        "QT_EXIT_MODES": json.dumps(WIDE_STOPS),
        "QT_NOTIFY__URLS": json.dumps([url]),
        "QT_NOTIFY__POLL_S": "0.2",
        **extra,
    }


def cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S)


def test_run_notifies_the_lease_a_position_opened_and_a_gate_change_with_its_reason(tmp_path: Path) -> None:
    with json_receiver() as receiver:
        env = run_env(tmp_path, receiver.url)
        service = ServiceProcess(("run",), tmp_path, env, wait_s=WAIT_S)
        try:
            lease = receiver.wait_for("took the lease", WAIT_S)
            opened = receiver.wait_for("opened ", WAIT_S)
            halt = cli(tmp_path, env, "gate", "halt", "--reason", "notify me")
            assert halt.returncode == 0, halt.stderr
            gate = receiver.wait_for("gate halted", WAIT_S)
        finally:
            code = service.stop()
        log = "".join(service.log)
        assert code == 0, log
        assert "token 1" in lease["message"]
        assert "operator: notify me" in gate["message"] and "open -> halted" in gate["message"]
        assert "QT_NOTIFY" not in log and receiver.url not in log  # the URL is never logged

        position_id = re.search(r"position (p-[0-9a-f]+)", opened["message"])
        assert position_id is not None, opened
        positions = json.loads(cli(tmp_path, env, "positions", "--json").stdout)
        position = next(p for p in positions if p["id"] == position_id.group(1))
        assert opened["title"] == f"opened {position['symbol']} {position['side']}"
        assert f"{position['filled_quantity']} at {position['entry_price']}" in opened["message"]


def test_run_a_hanging_channel_delays_no_step_and_its_failure_is_logged(tmp_path: Path) -> None:
    with hanging_receiver() as receiver:
        env = run_env(tmp_path, receiver.url, QT_FEED__SYNTHETIC_SPEED="20", QT_LOG__SUMMARY_EVERY_S="0.5")
        service = ServiceProcess(("run",), tmp_path, env, wait_s=WAIT_S)
        try:
            service.wait_for("first step done")
            assert receiver.accepted.wait(WAIT_S), "the lease notice never reached the receiver"
            # The sender now waits on a receiver that never answers. Steps come every 50 ms (speed 20): each
            # half-second summary must count candles, and arrive on time, all the while.
            arrivals, counts = [], []
            for _ in range(6):
                line = service.wait_for("summary (last", within_s=10)
                arrivals.append(time.monotonic())
                match = SUMMARY.search(line)
                assert match is not None, line
                counts.append(int(match.group(1)))
            failed = service.wait_for("not delivered", within_s=60)  # Apprise gives up; logged, not raised
            after = service.wait_for("summary (last", within_s=10)
        finally:
            code = service.stop()
        assert code == 0, "".join(service.log)
        assert all(count >= 5 for count in counts), counts  # ten steps of five symbols each, give or take
        gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
        assert max(gaps) < 2.0, gaps
        assert "took the lease" in failed and SUMMARY.search(after)
        assert receiver.connections  # it was held open, never answered
