"""One whole crash test run: the fake server and the market, then rounds of trade, SIGKILL, restart and check."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from actors.execution.ids import parse_client_order_id
from scripts.crash.checks import Checks
from scripts.crash.database import Database
from scripts.crash.faults import Faults
from scripts.crash.kills import OrderKill, Rounds
from scripts.crash.market import Market, start_fake_exchange
from scripts.crash.pacing import wait_ready
from scripts.crash.process import PROTECT_WITHIN_S, REQUEST_TIMEOUT_S, Service, service_env, write_settings
from scripts.crash.protection import ProtectionWatch
from scripts.crash.scenario import OPEN_STATES, say
from scripts.crash.signals import SignalInbox
from scripts.crash.tally import Tally
from scripts.service_process import command


class CrashTest:
    def __init__(self, *, kills: int, seed: int, workdir: Path, db_url: str) -> None:
        self.kills, self.workdir = kills, workdir
        self.rng = random.Random(seed)
        self.fake = start_fake_exchange(workdir)
        self.market = Market.with_history(self.fake, seed, kills)
        self.db = Database(db_url)
        self.tally = Tally()
        self.signals = SignalInbox(workdir / "inbox.jsonl", seed, self.rng, self.tally.quarantined)
        self.env = service_env(db_url, self.signals.path, self.fake.base_url)
        self.config = write_settings(workdir)
        self.service: Service | None = None
        order_kill = OrderKill(self.fake, lambda: self.service)
        self.faults = Faults(self.fake, self.rng, self.tally, self.market, hold_s=REQUEST_TIMEOUT_S + 0.5)
        self.watch = ProtectionWatch(self.fake, self.tally, PROTECT_WITHIN_S)
        self.rounds = Rounds(
            rng=self.rng,
            market=self.market,
            signals=self.signals,
            db=self.db,
            tally=self.tally,
            order_kill=order_kill,
            faults=self.faults,
            watch=self.watch,
        )
        self.checks = Checks(self.fake, self.db, self.tally)

    def start_service(self) -> Service:
        self.tally.starts += 1
        self.service = Service(self.workdir, self.env, self.tally.starts, self.config)
        return self.service

    def run(self) -> dict[str, Any]:
        began = time.monotonic()
        kills, tally = self.kills, self.tally
        halt_after = max(1, kills - max(1, kills // 5)) if kills >= 2 else None
        tally.kills_done = 0
        service = self.start_service()
        if not wait_ready(service, tally.recovery_actions):
            raise RuntimeError(f"the service did not start:\n{service.text()[-4000:]}")
        failed = self.checks.settled(service, 0)
        for line in failed:
            say(f"  FAIL before any kill: {line}")
        while tally.kills_done < kills:
            kill = tally.kills_done + 1
            t0 = time.monotonic()
            how = self.rounds.trade_until_killed(service, kill)
            tally.kills_done += 1
            down = self.rounds.down_time()
            service, note = self.rounds.restart(self.start_service, kills)
            failed = self.checks.settled(service, kill)
            figures = self.figures()
            say(
                f"kill {tally.kills_done}/{kills} [{how}{'; ' + down if down else ''}{note}] "
                f"-> orders {figures['orders']}, positions {figures['positions']} ({figures['open_now']} open), "
                f"{'OK' if not failed else 'FAILED'} ({time.monotonic() - t0:.1f}s)"
            )
            for line in failed:
                say(f"  FAIL after kill {kill}: {line}")
            gate = self.db.gate()
            if tally.halted_at is None and gate is not None and gate["state"] == "halted":
                # Counted above as a mismatch. An operator who looked reopens it, so that the rest of the run trades.
                self.gate_command(kill, "resume", "crash test: resumed after recording the unexpected halt")
            if halt_after is not None and tally.kills_done >= halt_after and tally.halted_at is None:
                self.operator_halt(kill)
        service.process.send_signal(signal.SIGTERM)
        code = service.reap()
        if code != 0:
            tally.failures.append(f"the last service did not stop cleanly on SIGTERM (exit code {code})")
        result = self.figures()
        result["seconds"] = round(time.monotonic() - began, 1)
        return result

    def gate_command(self, kill: int, verb: str, reason: str) -> str | None:
        """`quantum-trader gate halt|resume` (through the running service), then `gate --json`; the state after."""
        result = subprocess.run(
            command("gate", verb, "--reason", reason, "--config", str(self.config)),
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        gate = subprocess.run(
            command("gate", "--json", "--config", str(self.config)),
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        state = (json.loads(gate.stdout or "null") or {}).get("state")
        say(f"  operator: gate {verb} -> {' '.join((result.stdout or result.stderr).split())}; gate --json: {state}")
        want = "halted" if verb == "halt" else "open"
        if state != want and not (verb == "resume" and state == "paused"):
            self.tally.failures.append(
                f"kill {kill}: `gate {verb}` left the gate {state}: {result.stdout} {result.stderr}"
            )
        return state

    def operator_halt(self, kill: int) -> None:
        self.gate_command(kill, "halt", f"crash test: operator halt after kill {kill}")
        self.tally.halted_at = kill

    def figures(self) -> dict[str, Any]:
        tally = self.tally
        counts = self.fake.client_order_id_counts()
        prefix = self.db.client_prefix()
        ours = {cid: n for cid, n in counts.items() if parse_client_order_id(prefix, cid) is not None}
        duplicates = {cid: n for cid, n in ours.items() if n > 1}
        rows = self.db.positions()
        states = Counter(r["state"] for r in rows)
        return {
            "kills": tally.kills_done,
            "orders": len(ours),
            "positions": len(rows),
            "lost_positions": len(tally.lost),
            "duplicate_orders": len(duplicates),
            "mismatches": len(tally.mismatches),
            "unprotected": tally.unprotected,
            "protection_checks": tally.protection_checks,
            "faults": dict(sorted(tally.faults.items())),
            "requests_during_ban": self.requests_during_ban(),
            "open_now": sum(states[s] for s in OPEN_STATES),
            "positions_by_state": dict(sorted(states.items())),
            "opened": sum(1 for r in rows if r["opened_at"] is not None),
            "candles": self.market.candles,
            "signals": self.signals.count,
            "starts": tally.starts,
            "kill_modes": dict(tally.kill_modes),
            "kills_as_armed": tally.by_mode(tally.kills_as_armed),
            "fallbacks": tally.by_mode(tally.fallbacks),
            "quarantined_symbols": sorted(tally.quarantined),
            "recovery_actions": dict(tally.recovery_actions),
            "operator_halt_after_kill": tally.halted_at,
            "halt_survived_checks": tally.halt_kept,
            "duplicate_ids": duplicates,
            "lost": list(tally.lost.values()),
            "mismatch_details": list(tally.mismatches.values()),
            "unprotected_details": list(tally.unprotected_details.values()),
            "failures": tally.failures,
        }

    def requests_during_ban(self) -> int:
        """Requests the fake refused because a ban was in force, past the first second of the ban (a request already
        on its way when the 418 was answered is not the service ignoring the ban)."""
        return sum(1 for since_ms, _, _ in self.fake.faults.during_ban if since_ms > 1000)

    def close(self) -> None:
        if self.service is not None and self.service.process.poll() is None:
            self.service.kill("cleanup")
            self.service.reap()
        self.db.close()
        self.fake.stop()
