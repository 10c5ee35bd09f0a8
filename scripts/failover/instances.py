"""A `quantum-trader run --live` process of the failover bench, the owner or a standby (`--standby`).

It is the crash test's `Service` (its log lines, its waits, the kill hooks that call `kill`), and it notes the
moments the bench measures: when it was stopped (SIGKILL, or SIGSTOP in a fencing round), when it took the lease,
when its first step was done. The last two are noted by a thread of its own as the lines arrive, so a takeover's
time does not depend on when the bench gets round to looking.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time
from pathlib import Path

from scripts.crash.process import Service
from scripts.failover.pausing import pause_outside_writes

TOOK, FIRST_STEP, STANDING_BY, LOST = "took the lease on ", "first step done", "standby: ", "lost the lease"
FOREVER_S = 24 * 3600.0  # a standby may wait through many rounds of trading
_TOKEN = re.compile(r": token (\d+),")


class Instance(Service):
    def __init__(
        self, workdir: Path, env: dict[str, str], number: int, config: Path, *, database: Path, standby: bool
    ) -> None:
        super().__init__(
            workdir, env, number, config, args=("--standby",) if standby else (), log_name=f"instance-{number}.log"
        )
        self.database = database  # the SQLite file: a pause waits until the process holds no write lock on it
        self.pause_instead = False  # `kill` sends SIGSTOP: the process lives on, stopped, until `resume`
        self.paused = False
        self.stopped_at: float | None = None  # monotonic: SIGKILL or SIGSTOP sent
        self.took_at: float | None = None
        self.took_line = ""
        self.first_step_at: float | None = None
        self.took_over = threading.Event()  # set once its first step is done, or once it ended without one
        threading.Thread(target=self._note_takeover, name=f"takeover-{number}", daemon=True).start()

    def kill(self, reason: str) -> None:
        """SIGKILL, or SIGSTOP when `pause_instead`; either way the process stops acting (`killed`)."""
        if self.killed:
            return
        self.stopped_at = time.monotonic()
        if not self.pause_instead:
            super().kill(reason)
            return
        self.killed, self.kill_reason, self.paused = True, f"paused {reason}", True
        with contextlib.suppress(ProcessLookupError):
            if not pause_outside_writes(self.process.pid, self.database):
                self.kill_reason += " (inside a write transaction every time)"

    def resume(self) -> None:
        self.paused = False
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGCONT)

    def reap(self) -> int:
        """The exit code; a paused process has none yet (it lives on, stopped): -SIGSTOP then, at once."""
        if self.paused:
            return -signal.SIGSTOP
        return super().reap()

    def end(self) -> None:
        """Whatever state it is in, it ends (the bench's cleanup)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)  # a stopped process ends too
            self.paused = False
            super().reap()

    @property
    def token(self) -> int | None:
        """The fencing token it took the lease with (None: it has not)."""
        found = _TOKEN.search(self.took_line)
        return int(found.group(1)) if found else None

    def _note_takeover(self) -> None:
        index = self.wait_for(TOOK, timeout=FOREVER_S)
        if index is not None:
            self.took_at = time.monotonic()
            self.took_line = self.lines[index]
            if self.wait_for(FIRST_STEP, since=index, timeout=FOREVER_S) is not None:
                self.first_step_at = time.monotonic()
        self.took_over.set()
