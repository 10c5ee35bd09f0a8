"""One running instance per database: an exclusive lock on a file beside it."""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from types import TracebackType

from persistence.db import DatabaseUnavailable, sqlite_path


class AlreadyRunning(Exception):
    pass


def lock_path(url: str) -> Path:
    path = sqlite_path(url)
    if path is not None:
        return path.with_name(path.name + ".lock")
    digest = hashlib.sha1(url.encode()).hexdigest()[:12]  # a server database: one lock per URL on this host
    return Path.cwd() / f".quantum_trader-{digest}.lock"


class InstanceLock:
    """Held for the life of the process; the kernel releases it if the process dies, even by SIGKILL."""

    def __init__(self, url: str) -> None:
        self.path = lock_path(url)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Raises `AlreadyRunning` while another process holds it, `DatabaseUnavailable` if it cannot be made."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise DatabaseUnavailable(
                f"{self.path.parent}: cannot hold the instance lock there ({error.strerror}): "
                "is it an existing directory this user may write to?"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise AlreadyRunning(
                f"another Quantum Trader (pid {holder}) is running on this database ({self.path})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def service_running(url: str) -> bool:
    """True while some process holds the instance lock of this database."""
    path = lock_path(url)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
