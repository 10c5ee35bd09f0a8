"""A `quantum-trader` command run as a real process, its log lines arriving on a queue."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


def command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("quantum-trader")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from service.cli import main; main()", *args]


class ServiceProcess:
    def __init__(self, args: tuple[str, ...], workdir: Path, env: dict[str, str], *, wait_s: float) -> None:
        self.wait_s = wait_s
        self.process = subprocess.Popen(
            command(*args), cwd=workdir, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.log: list[str] = []
        self.stdout = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str, *, within_s: float | None = None) -> str:
        """The first log line from now that holds `text`; raises `TimeoutError` if none came within `within_s`
        (default: the process's wait) and `AssertionError` if the process ended first."""
        deadline = time.monotonic() + (within_s if within_s is not None else self.wait_s)
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no log line with {text!r} within {within_s}s") from None
            assert line is not None, "the service exited early:\n" + "".join(self.log)
            self.log.append(line)
            if text in line:
                return line

    def seen(self, text: str) -> str | None:
        """A log line already waited past that holds `text` (None: none yet)."""
        return next((line for line in self.log if text in line), None)

    def stop(self) -> int:
        """SIGTERM, then the exit code once every log line is in."""
        self.process.send_signal(signal.SIGTERM)
        return self.wait()

    def wait(self) -> int:
        """The exit code of a process that ends by itself, once every log line is in."""
        code = self.process.wait(timeout=self.wait_s)
        assert self.process.stdout is not None
        self.stdout = self.process.stdout.read()
        while (line := self.lines.get(timeout=self.wait_s)) is not None:
            self.log.append(line)
        return code
