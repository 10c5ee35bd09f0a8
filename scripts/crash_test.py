"""Crash test: `quantum-trader run --live` against the fake Binance server, killed with SIGKILL again and again.

The fake Binance USD-M server runs in this process (a thread), so the script drives its
prices and reads its books and its count of client order ids directly. The service runs
as a real process (`quantum-trader run --live`, fake keys, the Binance feed) on four
symbols with a busy inbox of signals; candles move the prices so entries fill, stops and
take-profits trigger, trailing stops move.

Each round: trade for a while, then SIGKILL the service at a moment chosen by a seeded
RNG, one of:

* ``order``   the fake server kills the service while handling its k-th order request of
              the round, before executing it (the order never existed) or after (it exists,
              the service never heard back);
* ``log``     on the n-th log line of a kind (entry submitted, entry filled, position
              closed, ...): just after a transition was committed, before what follows;
* ``time``    after a random amount of wall time of trading;
* ``startup`` during the restart itself (venue announced, recovery, warm-up).

While it trades, the fake server behaves as Binance does (`scripts/crash/faults.py`): before each step a seeded
draw may inject a fault: market orders filled in several trades, orders that time out and appear late, 429s and
filter changes on protective orders, unreadable frames on both streams, a user-data stream down or silent for a
few steps, a liquidation, an auto-deleverage or a close by hand, a ban (that may outlive the kill), BNB fees. After
every step it sees, the protection invariant is checked on the exchange (`scripts/crash/protection.py`): a position
held without stops of ours covering all of it for longer than `exchange.protect_within_s` (plus the time for a
market close) counts as `unprotected`.

Signals arrive in the inbox at most steps, and after some steps the feed stays quiet for one policy cycle: the
service reads its inbox only on its timer's ticks (the candles pushed are hours old), so that is when it enters.
A round trades until its armed event comes, or falls back to a plain kill after `MAX_STEPS_PER_ROUND` steps.

While it is down the prices may move on (stops fill while down) and signals may arrive.
Then the service is started again; once its start-up and recovery are done and the feed
is quiet (no candles pushed, two policy cycles completed) the checks run:

1. no position lost: every position the exchange holds has a live position in the
   database on the same side with the same open quantity;
2. no client order id reached the exchange twice (the fake server's counts);
3. the database and the exchange agree: no open position in the database that the
   exchange does not hold, every open order of ours on the exchange belongs to a live
   position, and every live position's current stop (the one the database names) rests;
4. every entity's state equals its last transition's target (`load_machines`, and the same
   query over every entity, final ones included);
5. the gate: never halted or locked by anything but the operator; after the operator's
   `gate halt` (set for the last fifth of the run) it is halted at every later check.

The parts live in `scripts/crash/` (its `__init__` lists them); this file is the command line.

The service's database is a SQLite file in the work directory, or with `--database-url` a PostgreSQL database:
the run then makes a schema of its own there (its name is in the progress), dropped at the end unless the run
failed, so that runs on one server never see each other's data. The service migrates it when it first starts.

Usage: python scripts/crash_test.py [--kills 100] [--seed 1] [--workdir DIR] [--database-url URL]

Progress goes to stderr; the last line on stdout is one JSON object:
{"kills", "orders", "positions", "lost_positions", "duplicate_orders", "mismatches", "unprotected",
"requests_during_ban", "faults", "kill_modes", "kills_as_armed", "fallbacks", ...}; the run fails unless the five
counts are 0. `kill_modes` counts the modes armed, `kills_as_armed` the kills that came as armed and `fallbacks`
the rounds whose armed event never came within the round (a plain kill then), by mode; each round's progress line
says which ("-> as armed" or "-> fallback").
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from persistence.db import sqlite_path, sqlite_url
from scripts.crash.runner import CrashTest
from scripts.crash.scenario import say
from scripts.pg_schema import create_schema, drop_schema, in_schema, is_postgresql


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=100, help="SIGKILLs of the service (default 100)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every random choice (default 1)")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the database, inbox and service log here "
        "(default: a temporary directory, removed unless a check failed)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="the service's database: a new SQLite file, or a PostgreSQL database in which the run makes "
        "a fresh schema (default: crash.db in the work directory)",
    )
    args = parser.parse_args(argv)
    if args.kills < 1:
        parser.error("--kills must be at least 1")
    if args.database_url is not None and not is_postgresql(args.database_url):
        path = sqlite_path(args.database_url)
        if path is None or path.exists():
            parser.error("--database-url: a PostgreSQL database, or a SQLite file that does not exist yet")
    temp = None
    if args.workdir is None:
        temp = tempfile.mkdtemp(prefix="qt-crash-")
        workdir = Path(temp)
    else:
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    schema = None
    if args.database_url is None:
        db_url, where = sqlite_url(workdir / "crash.db"), "crash.db"
    elif is_postgresql(args.database_url):
        schema = create_schema(args.database_url, prefix="qt_crash")
        db_url, where = in_schema(args.database_url, schema), f"PostgreSQL schema {schema}"
    else:
        db_url, where = args.database_url, args.database_url
    say(f"crash test: {args.kills} kills, seed {args.seed}, work directory {workdir}, database {where}")
    test = None
    try:
        test = CrashTest(kills=args.kills, seed=args.seed, workdir=workdir, db_url=db_url)
        result = test.run()
    except BaseException:
        say(f"kept for inspection: {workdir} (service.log, inbox.jsonl) and the database, {where}")
        raise
    finally:
        if test is not None:
            test.close()
    bad = (
        result["lost_positions"]
        or result["duplicate_orders"]
        or result["mismatches"]
        or result["unprotected"]
        or result["requests_during_ban"]
        or result["failures"]
    )
    say(
        f"done in {result['seconds']}s: {result['kills']} kills, {result['orders']} client order ids, "
        f"{result['positions']} positions ({result['opened']} opened), {result['candles']} candles, "
        f"{result['signals']} signals; lost {result['lost_positions']}, duplicates {result['duplicate_orders']}, "
        f"mismatches {result['mismatches']}, unprotected {result['unprotected']} of "
        f"{result['protection_checks']} checks, requests during a ban {result['requests_during_ban']}; "
        f"faults {sum(result['faults'].values())}: {result['faults']}; kills as armed {result['kills_as_armed']}, "
        f"fallbacks {result['fallbacks']}"
    )
    for line in result["lost"] + result["mismatch_details"] + result["unprotected_details"] + result["failures"]:
        say(f"  FAIL {line}")
    if bad:
        say(f"kept for inspection: {workdir} (service.log, inbox.jsonl) and the database, {where}")
    else:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
        if schema is not None:
            drop_schema(args.database_url, schema)
    print(json.dumps(result), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
