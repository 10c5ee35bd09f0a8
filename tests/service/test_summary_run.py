"""The log a person can follow, from a real `run`: a line per protective order and per close with its PnL, and a
summary line every `log.summary_every_s` of the service's clock."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path

from scripts.service_process import ServiceProcess, command

WAIT_S = 90
SUMMARY = re.compile(
    r"summary \(last (\d+)s\): (\d+) candle\(s\), (\d+) signal\(s\), decisions: (.*); (\d+) open position\(s\); "
    r"equity (\S+); gate (.*)$"
)


def test_run_logs_orders_closes_and_a_summary_line_whose_counts_match_the_database(tmp_path: Path) -> None:
    env = os.environ | {
        "QT_DATABASE__URL": f"sqlite:///{tmp_path / 'live.db'}",
        "QT_FEED__SYNTHETIC_SPEED": "200",
        "QT_LOG__SUMMARY_EVERY_S": "1",
    }
    service = ServiceProcess(("run",), tmp_path, env, wait_s=WAIT_S)
    try:
        placed = service.wait_for(" stop-loss placed: ")
        closed = service.wait_for(": closed (")
        summary = service.wait_for("summary (last")
        while "ACCEPTED" not in summary:  # the first summary may come before the first decision
            summary = service.wait_for("summary (last")
    finally:
        code = service.stop()
    log = "".join(service.log)
    assert code == 0, log
    assert re.search(r"p-[0-9a-f]+ [A-Z]+ stop-loss placed: (BUY|SELL) [0-9.]+ at [0-9.]+$", placed.strip()), placed
    assert re.search(r": exit [0-9.]+, PnL -?[0-9.]+ after [0-9.]+ fees$", closed.strip()), closed

    summaries = [m for line in service.log if (m := SUMMARY.search(line.strip()))]
    assert summaries and all(int(m.group(2)) > 0 for m in summaries)  # candles every second at speed 200
    assert all(m.group(7) == "open" and float(m.group(6)) > 0 for m in summaries)
    logged: Counter[str] = Counter()
    for match in summaries:
        for part in filter(None, match.group(4).split(", ")):
            if part != "none":
                reason, count = part.rsplit(" ", 1)
                logged[reason] += int(count)
    decisions = json.loads(
        subprocess.run(
            command("decisions", "--json"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_S
        ).stdout
    )
    recorded = Counter(d["reason"] for d in decisions)
    assert logged["ACCEPTED"] >= 1
    assert all(count <= recorded[reason] for reason, count in logged.items()), (logged, recorded)
