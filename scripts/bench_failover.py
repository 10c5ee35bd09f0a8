"""Failover bench: an owner (`run --live`) and a standby (`run --live --standby`) on one database and one fake
Binance account; the owner is killed again and again, and the standby must take over within 15 s.

It is the crash test (`scripts/crash_test.py`) with two service processes: the fake Binance server in this process,
the seeded market, the signal inbox, the faults, the kill moments (mid-order through the fake server's hook, on log
lines, after random time) and the checks after each recovery are the crash test's. Each round:

1. trade for a while, then SIGKILL the owner at a seeded random moment;
2. time the takeover: from the kill to the standby's first completed step (`first step done`);
3. once the new owner is settled, the crash test's checks: no position lost, no client order id sent twice, the
   database and the exchange agree, no position unprotected;
4. start a fresh standby for the next round.

For every four kills there is a fencing round (the second of each five rounds): the owner is paused (SIGSTOP)
instead, at a moment chosen the same way; the standby takes over once the lease has expired (without the old
owner's locks); then the old owner is resumed (SIGCONT) and must exit with code 4 saying it lost the lease, having
written nothing (no transition after the takeover without the new owner's token: `fenced_writes`) and sent nothing
(no order request from one of its connections, or from an unknown one, reaching the fake server between its
SIGCONT and its exit: `fenced_orders`; see `scripts/failover/fencing.py`). Linux only: senders are found in /proc.

Usage: python scripts/bench_failover.py [--kills 20] [--seed 1] [--workdir DIR] [--lease-s SECONDS]

Progress goes to stderr; the last line on stdout is one JSON object: kills, fencing_rounds, takeover_p50_s,
takeover_max_s (over the kills), takeovers, lost_positions, duplicate_orders, mismatches, unprotected,
fenced_writes, fenced_orders, failures, and the crash test's other figures. It exits 1 unless every count is 0
and takeover_max_s is at most 15 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.crash.scenario import say
from scripts.failover.bench import FailoverBench

TAKEOVER_TARGET_S = 15.0
COUNTS = (
    "lost_positions",
    "duplicate_orders",
    "mismatches",
    "unprotected",
    "requests_during_ban",
    "fenced_writes",
    "fenced_orders",
)


def bad(result: dict[str, Any], kills: int) -> list[str]:
    """What makes the run fail, in words (nothing: it passed)."""
    found = [f"{name} {result[name]}" for name in COUNTS if result[name]]
    if result["failures"]:
        found.append(f"{len(result['failures'])} failures")
    if result["kills"] < kills:
        found.append(f"only {result['kills']} of {kills} kills")
    maximum = result["takeover_max_s"]
    if maximum is None or maximum > TAKEOVER_TARGET_S:
        found.append(f"takeover_max_s {maximum} (target {TAKEOVER_TARGET_S:.0f} s)")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs of the owner (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every random choice (default 1)")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the database, inbox and service logs here "
        "(default: a temporary directory, removed unless a check failed)",
    )
    parser.add_argument(
        "--lease-s",
        type=float,
        help="the lease's length (QT_LEASE__SECONDS), renewed four times in it (default: the service's own settings)",
    )
    args = parser.parse_args(argv)
    if args.kills < 1:
        parser.error("--kills must be at least 1")
    temp = None
    if args.workdir is None:
        temp = tempfile.mkdtemp(prefix="qt-failover-")
        workdir = Path(temp)
    else:
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    lease = f"lease {args.lease_s} s" if args.lease_s is not None else "the default lease"
    say(f"failover bench: {args.kills} kills, seed {args.seed}, {lease}, work directory {workdir}")
    bench = FailoverBench(kills=args.kills, seed=args.seed, workdir=workdir, lease_s=args.lease_s)
    try:
        result = bench.run()
    finally:
        bench.close()
    problems = bad(result, args.kills)
    say(
        f"done in {result['seconds']}s: {result['kills']} kills and {result['fencing_rounds']} fencing rounds; "
        f"takeover p50 {result['takeover_p50_s']}s, max {result['takeover_max_s']}s (after a pause: "
        f"{result['fencing_takeover_max_s']}s); {result['orders']} client order ids, {result['positions']} "
        f"positions; lost {result['lost_positions']}, duplicates {result['duplicate_orders']}, mismatches "
        f"{result['mismatches']}, unprotected {result['unprotected']}, fenced writes {result['fenced_writes']}, "
        f"fenced orders {result['fenced_orders']}"
    )
    for line in result["lost"] + result["mismatch_details"] + result["unprotected_details"] + result["failures"]:
        say(f"  FAIL {line}")
    if temp is not None and not problems:
        shutil.rmtree(temp, ignore_errors=True)
    elif problems:
        say(f"FAILED ({'; '.join(problems)}); kept for inspection: {workdir} (instance-*.log, crash.db, inbox.jsonl)")
    print(json.dumps(result), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
