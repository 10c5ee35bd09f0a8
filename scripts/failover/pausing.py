"""Pausing a service process (SIGSTOP) where a standby can take over from it, on SQLite.

An owner stopped inside a write transaction holds the database's one write lock: nobody can take over while it is
paused, whatever its lease says (with SQLite, a paused owner blocks every writer). So a pause that caught the owner
holding it is given back at once (SIGCONT), and the next waits until the owner has left that transaction (a pause
right after SIGCONT would find it still inside). The lock is read from /proc/locks: there is no event to wait on.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

ATTEMPTS = 20
WAIT_S = 30.0


def pause_outside_writes(pid: int, database: Path) -> bool:
    """SIGSTOP `pid` at a moment it holds no write lock on `database`; False if every attempt caught it inside one
    (it is left stopped all the same). Raises ProcessLookupError if it has ended."""
    shm = database.with_name(database.name + "-shm")
    for _ in range(ATTEMPTS):
        if not _until(lambda: not holds_write_lock(pid, shm), WAIT_S):
            break
        os.kill(pid, signal.SIGSTOP)
        _until(lambda: stopped(pid), WAIT_S)
        if not holds_write_lock(pid, shm):
            return True
        os.kill(pid, signal.SIGCONT)
    os.kill(pid, signal.SIGSTOP)
    return False


def holds_write_lock(pid: int, shm: Path) -> bool:
    """The process holds SQLite's WAL write lock: byte 120 of the database's -shm file, in /proc/locks."""
    try:
        inode = shm.stat().st_ino
    except FileNotFoundError:
        return False
    return any(
        f" WRITE {pid} " in line and line.endswith(f":{inode} 120 120")
        for line in Path("/proc/locks").read_text().splitlines()
    )


def stopped(pid: int) -> bool:
    """The process is stopped by a signal, or gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("T", "Z", "X")


def _until(condition: Callable[[], bool], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        os.sched_yield()
    return True
