"""Which process sent a request to the fake server: the one holding the client's end of its connection.

The fake server notes the client's port of every call (`FakeBinance.callers`); on Linux, /proc/net/tcp names each
socket's ports and inode, and /proc/<pid>/fd the process holding it. `Senders` looks at the given processes'
connections to the server every few milliseconds while it runs, so a port is known for as long as the
connection lives (python-binance keeps its connections open between requests).
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from types import TracebackType

EVERY_S = 0.02


def _sockets_to(server_port: int) -> dict[int, int]:
    """Socket inode -> local port, of every TCP connection to `server_port` on this host."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], int(fields[9])
                if inode and int(remote.rsplit(":", 1)[1], 16) == server_port:
                    found[inode] = int(local.rsplit(":", 1)[1], 16)
    return found


def client_ports(pids: tuple[int, ...], server_port: int) -> dict[int, int]:
    """Client port -> pid, of the connections these processes hold to `server_port`."""
    sockets = _sockets_to(server_port)
    ports = {}
    for pid in pids:
        with contextlib.suppress(OSError):  # the process ended
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:[") and (inode := int(link[8:-1])) in sockets:
                        ports[sockets[inode]] = pid
    return ports


class Senders:
    """While open, collects the client ports of `pids`' connections to the server (`ports`: port -> pid)."""

    def __init__(self, pids: tuple[int, ...], server_port: int) -> None:
        self.pids, self.server_port = pids, server_port
        self.ports: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._look, name="senders", daemon=True)

    def __enter__(self) -> Senders:
        self.ports |= client_ports(self.pids, self.server_port)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(5)

    def _look(self) -> None:
        while not self._stop.wait(EVERY_S):
            self.ports |= client_ports(self.pids, self.server_port)
