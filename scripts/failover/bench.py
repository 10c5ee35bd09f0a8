"""One whole failover run: an owner and a standby on one database and one fake account; rounds of trade, then a
SIGKILL of the owner (or, in a fencing round, a SIGSTOP past its lease), the standby's takeover timed, the crash
test's checks on the new owner, and a fresh standby for the next round.

It is the crash test (`scripts.crash.runner.CrashTest`: the fake server, the market, the signals, the kill moments,
the checks and the figures), run with two service processes instead of one restarted.
"""

from __future__ import annotations

import signal
import statistics
import time
from pathlib import Path
from typing import Any

from persistence.db import sqlite_url
from scripts.crash.pacing import wait_ready
from scripts.crash.runner import CrashTest
from scripts.crash.scenario import say
from scripts.failover.fencing import FencingLedger, refused
from scripts.failover.instances import LOST, STANDING_BY, Instance
from scripts.failover.senders import Senders

TAKEOVER_WAIT_S = 120.0  # past this, the standby did not take over at all
FENCE_EVERY = 5  # one round in five is a fencing round (the second of each five)
WITH_LOCKS, WITHOUT_LOCKS = "with its locks", "without the previous owner's locks"


class RoundFailed(Exception):
    """A round could not go on (no takeover, a process that would not start): the run ends with what it has."""


def lease_env(lease_s: float) -> dict[str, str]:
    """A lease of `lease_s`, renewed four times in it (at most every 2 s, the default)."""
    return {"QT_LEASE__SECONDS": str(lease_s), "QT_LEASE__RENEW_EVERY_S": str(min(2.0, lease_s / 4))}


def schedule(kills: int) -> list[str]:
    """The rounds: `kills` SIGKILLs, and a fencing round for every four of them, the second of each five."""
    kills_left, fences_left = kills, -(-kills // 4)
    rounds: list[str] = []
    while kills_left or fences_left:
        if fences_left and (len(rounds) % FENCE_EVERY == 1 or not kills_left):
            rounds.append("pause")
            fences_left -= 1
        else:
            rounds.append("kill")
            kills_left -= 1
    return rounds


class FailoverBench(CrashTest):
    def __init__(self, *, kills: int, seed: int, workdir: Path, lease_s: float | None) -> None:
        self.plan = schedule(kills)
        self.database = workdir / "crash.db"
        super().__init__(kills=len(self.plan), seed=seed, workdir=workdir, db_url=sqlite_url(self.database))
        if lease_s is not None:
            self.env |= lease_env(lease_s)
        self.instances: list[Instance] = []
        self.ledger: FencingLedger | None = None
        self.takeovers: list[dict[str, Any]] = []
        self.fencing: list[dict[str, Any]] = []

    def start(self, *, standby: bool) -> Instance:
        self.tally.starts += 1
        instance = Instance(
            self.workdir, self.env, self.tally.starts, self.config, database=self.database, standby=standby
        )
        self.instances.append(instance)
        return instance

    def start_standby(self) -> Instance:
        standby = self.start(standby=True)
        if standby.wait_for(STANDING_BY) is None:
            raise RoundFailed(f"the standby did not stand by:\n{standby.text()[-3000:]}")
        return standby

    def run(self) -> dict[str, Any]:
        began = time.monotonic()
        owner = self.service = self.start(standby=False)
        if not wait_ready(owner, self.tally.recovery_actions):
            raise RuntimeError(f"the service did not start:\n{owner.text()[-4000:]}")
        self.ledger = FencingLedger(self.fake, self.env["QT_DATABASE__URL"])
        self.report(0, "before any kill", self.checks.settled(owner, 0), began)
        try:
            standby = self.start_standby()
            for number, kind in enumerate(self.plan, 1):
                t0 = time.monotonic()
                if kind == "kill":
                    how = self.rounds.trade_until_killed(owner, number)
                    self.tally.kills_done += 1
                    owner = self.take_over(owner, standby, number, kind, WITH_LOCKS)
                else:
                    owner.pause_instead = True
                    how = self.rounds.trade_until_killed(owner, number)
                    owner = self.fence(owner, standby, number)
                self.report(number, f"{kind}: {how}", self.checks.settled(owner, number), t0)
                gate = self.db.gate()
                if gate is not None and gate["state"] == "halted":  # counted as a mismatch; reopened to trade on
                    self.gate_command(number, "resume", "failover bench: resumed after recording the unexpected halt")
                standby = self.start_standby()
            self.stop(owner, "the owner")
            self.stop(standby, "the last standby")
        except RoundFailed as failed:
            self.tally.failures.append(str(failed))
        result = self.figures()
        result["seconds"] = round(time.monotonic() - began, 1)
        return result

    def take_over(self, old: Instance, new: Instance, number: int, kind: str, how: str) -> Instance:
        """Waits for `new` to take over from `old` (stopped); times it from the stop to `new`'s first step."""
        if not new.took_over.wait(TAKEOVER_WAIT_S) or new.first_step_at is None:
            raise RoundFailed(f"round {number}: the standby did not take over:\n{new.text()[-3000:]}")
        assert old.stopped_at is not None and new.took_at is not None
        if how not in new.took_line:
            self.tally.failures.append(f"round {number}: took the lease not {how!r}: {new.took_line.strip()}")
        self.takeovers.append(
            {
                "round": number,
                "kind": kind,
                "seconds": round(new.first_step_at - old.stopped_at, 2),
                "lease_taken_s": round(new.took_at - old.stopped_at, 2),
            }
        )
        self.service = new  # the fake server's order kills go to the new owner now
        if not wait_ready(new, self.tally.recovery_actions):
            raise RoundFailed(f"round {number}: the new owner ended:\n{new.text()[-3000:]}")
        self.watch.restarted()
        return new

    def fence(self, old: Instance, new: Instance, number: int) -> Instance:
        """`old` is paused past its lease: `new` takes over; then `old` resumes, must stop (code 4, saying why)
        having written and sent nothing."""
        assert self.ledger is not None
        owner = self.take_over(old, new, number, "pause", WITHOUT_LOCKS)
        mark = self.ledger.mark()
        with Senders((old.process.pid, new.process.pid), self.fake.port) as senders:
            old.resume()
            code = old.reap()
        calls = self.ledger.orders_since(mark, senders.ports)
        orders = [c.describe() for c in calls if c.sender != new.process.pid]
        token = new.token
        if token is None:
            raise RoundFailed(f"round {number}: no token in {new.took_line!r}")
        writes = self.ledger.fenced_writes(mark, token)
        log = old.text()
        said = refused(log)
        self.fencing.append(
            {
                "round": number,
                "exit_code": code,
                "new_token": token,
                "fenced_writes": writes,
                "orders_after_resume": orders,
                "new_owner_orders_meanwhile": sum(1 for c in calls if c.sender == new.process.pid),
                "refused_writes_and_orders": said,
            }
        )
        if code != 4 or LOST not in log:
            self.tally.failures.append(
                f"round {number}: the resumed owner exited with code {code}"
                f"{'' if LOST in log else ', never saying it lost the lease'}:\n{old.text()[-2000:]}"
            )
        if writes or orders:
            self.tally.failures.append(f"round {number}: the resumed owner wrote {writes}, sent {orders}")
        return owner

    def stop(self, instance: Instance, who: str) -> None:
        instance.process.send_signal(signal.SIGTERM)
        code = instance.reap()
        if code != 0:
            self.tally.failures.append(f"{who} did not stop cleanly on SIGTERM (exit code {code})")

    def report(self, number: int, how: str, failed: list[str], t0: float) -> None:
        figures = super().figures()
        took = next((t for t in self.takeovers if t["round"] == number), None)
        taken = f"; took over in {took['seconds']}s (lease at {took['lease_taken_s']}s)" if took else ""
        say(
            f"round {number}/{len(self.plan)} [{how}{taken}] -> orders {figures['orders']}, positions "
            f"{figures['positions']} ({figures['open_now']} open), {'OK' if not failed else 'FAILED'} "
            f"({time.monotonic() - t0:.1f}s)"
        )
        for line in failed:
            say(f"  FAIL after round {number}: {line}")

    def figures(self) -> dict[str, Any]:
        figures = super().figures()
        kills = [t["seconds"] for t in self.takeovers if t["kind"] == "kill"]
        pauses = [t["seconds"] for t in self.takeovers if t["kind"] == "pause"]
        return figures | {
            "fencing_rounds": len(self.fencing),
            "takeover_p50_s": round(statistics.median(kills), 2) if kills else None,
            "takeover_max_s": max(kills, default=None),
            "fencing_takeover_max_s": max(pauses, default=None),
            "takeovers": self.takeovers,
            "fenced_writes": sum(f["fenced_writes"] for f in self.fencing),
            "fenced_orders": sum(len(f["orders_after_resume"]) for f in self.fencing),
            "fencing": self.fencing,
        }

    def close(self) -> None:
        for instance in self.instances:
            instance.end()
        if self.ledger is not None:
            self.ledger.close()
        super().close()
