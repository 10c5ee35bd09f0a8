"""The service as a real process (`quantum-trader run --live`): its configuration, its log lines, SIGKILL."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from scripts.crash.scenario import CYCLE_S, KEY, PREFIX, SECRET, SYMBOLS
from scripts.service_process import command

START_TIMEOUT_S = 90.0
# Shorter than the defaults, so that a position left without a stop shows within a round of trading.
PROTECT_WITHIN_S = 8.0
REQUEST_TIMEOUT_S = 2.0
ENTRY_LOOKUP_AFTER_S = 3.0
NEVER_PLACED_AFTER_S = 60.0  # the service's default: an entry not found is written off after lookups this long


def service_env(db_url: str, inbox: Path, base_url: str) -> dict[str, str]:
    """Fake keys, the Binance exchange and feed at the fake server, signals from the inbox only."""
    return os.environ | {
        "QT_DATABASE__URL": db_url,
        "QT_EXCHANGE__KIND": "binance",
        "QT_EXCHANGE__API_KEY": KEY,
        "QT_EXCHANGE__API_SECRET": SECRET,
        "QT_EXCHANGE__BASE_URL": base_url,
        "QT_EXCHANGE__CLIENT_ID_PREFIX": PREFIX,
        "QT_FEED__KIND": "binance",
        "QT_SYMBOLS": json.dumps(list(SYMBOLS)),
        "QT_SIGNALS__BUILTIN": "false",
        "QT_SIGNALS__INBOX": str(inbox),
        "QT_ORCHESTRATOR__CYCLE_SECONDS": str(CYCLE_S),
        "QT_EXCHANGE__PROTECT_WITHIN_S": str(PROTECT_WITHIN_S),
        "QT_EXCHANGE__REQUEST_TIMEOUT_S": str(REQUEST_TIMEOUT_S),
        "QT_EXCHANGE__ENTRY_LOOKUP_AFTER_S": str(ENTRY_LOOKUP_AFTER_S),
    }


def write_settings(workdir: Path) -> Path:
    # A drawdown lock would last until the next UTC day of wall time and stop all entries for the rest of the
    # run, a drawdown halt until an operator resumes; the operator's halt is what this test checks for survival.
    config = workdir / "settings.toml"
    # Random signals lose money: the symbol-performance filter would soon disallow every symbol for a week, and
    # their stop-outs would cool the symbols down for hours.
    # Room for more open positions than symbols: a position stuck by a bug must not pause every entry.
    config.write_text(
        "[profiles.SAFE]\ndaily_drawdown_limit_pct = 0.5\nmax_drawdown_pct = 0.9\nmax_open_positions = 12\n\n"
        "[risk]\ncooldown_after_stop_outs = 100\n\n"
        "[orchestrator.flags]\nuse_for_signal_filter = false\n"
    )
    return config


class Service:
    """One `quantum-trader run --live` process; its stderr lines go to a log file and to waiters."""

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str],
        number: int,
        config: Path,
        *,
        args: tuple[str, ...] = (),
        log_name: str = "service.log",
    ) -> None:
        """`args` go after `run --live` (e.g. `--standby`); two processes at once need a log file each."""
        self.number = number
        self.log_path = workdir / log_name
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.done = False
        self.killed = False
        self.kill_reason = ""
        self._arm: tuple[str, int] | None = None  # (text, occurrences left) -> SIGKILL from the reader
        self.process = subprocess.Popen(
            command("run", "--live", *args, "--config", str(config)),
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        with self.log_path.open("a") as log:
            log.write(f"===== start {self.number} pid {self.process.pid} =====\n")
            for line in self.process.stderr:
                log.write(line)
                with self.cond:
                    if self._arm is not None and self._arm[0] in line:
                        left = self._arm[1] - 1
                        self._arm = (self._arm[0], left) if left > 0 else None
                        if left <= 0:
                            self.kill(f"on log line {line.strip()[:110]!r}")
                    self.lines.append(line)
                    self.cond.notify_all()
            log.flush()
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def arm_log_kill(self, text: str, occurrences: int, since: int) -> None:
        with self.cond:
            seen = sum(1 for line in self.lines[since:] if text in line)
            if seen >= occurrences:
                self.kill(f"on log line containing {text!r}")
            else:
                self._arm = (text, occurrences - seen)

    def kill(self, reason: str) -> None:
        if self.killed:
            return
        self.killed, self.kill_reason = True, reason
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)

    def wait_for(self, text: str, since: int = 0, timeout: float = START_TIMEOUT_S) -> int | None:
        """Index of the first line at or after `since` containing `text`; None if the process ended first."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for index in range(since, len(self.lines)):
                    if text in self.lines[index]:
                        return index
                since = len(self.lines)
                if self.done:
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no log line with {text!r} after {timeout:.0f}s")
                self.cond.wait(remaining)

    def reap(self) -> int:
        code = self.process.wait(timeout=30)
        self._reader.join(10)
        return code

    def text(self, since: int = 0) -> str:
        with self.cond:
            return "".join(self.lines[since:])
