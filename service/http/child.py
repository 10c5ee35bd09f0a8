"""The HTTP process the service starts (service/http/process.py): `python -m service.http.child LISTEN_FD LINK_FD`.

It serves the API and dashboard on the socket the service bound, over the service's database, with the service's
access rules; halt and resume are queued in the database for the service, as `quantum-trader gate halt` does. It
exits when the link closes: the service stopped it, or is gone however it ended. It runs at the lowest CPU priority
(`lowest_priority`): on a busy machine the scheduler gives the trading process the core first, and the page waits.
"""

from __future__ import annotations

import logging
import os
import socket
import sys

from sqlalchemy.exc import SQLAlchemyError

from persistence.db import DatabaseUnavailable, make_engine, open_read_only
from service import gate_commands
from service.http.app import Backend, create_app
from service.http.auth import AccessRules
from service.http.link import LinkHandler, ServiceLink
from service.http.server import HttpServer

NICENESS = 19  # where the idle class is not to be had: the lowest share of a core the scheduler gives


def main(listen_fd: int, link_fd: int) -> int:
    lowest_priority()
    listener = socket.socket(fileno=listen_fd)
    service = ServiceLink(socket.socket(fileno=link_fd))
    hello = service.hello()
    root = logging.getLogger()
    root.handlers[:] = [LinkHandler(service)]
    root.setLevel(hello.log_level)
    try:
        engine = open_read_only(hello.url)
        writer = make_engine(hello.url)  # only the operator's commands are written, as `gate halt` does
    except (DatabaseUnavailable, SQLAlchemyError) as error:
        service.tell({"error": f"cannot read the database: {error}"})
        return 1

    def command(name: str, reason: str) -> str:
        return gate_commands.through_service(writer, name, reason)

    backend = Backend(engine=engine, running=lambda: True, command=command, service=service)
    app = create_app(backend, AccessRules(host=hello.host, token=hello.token, writable=True))
    server = HttpServer(app, on_started=lambda: service.tell({"serving": True}))
    service.listen(on_closed=server.stop)
    try:
        server.serve_forever(listener)
    finally:
        engine.dispose()
        writer.dispose()
    return 0


def lowest_priority() -> None:
    """Linux's idle scheduling class (threads started later inherit it): this process runs on a core only while no
    ordinary one wants it, and gives it up at once when the trading process wakes, so a request never delays a step
    by a time slice. Elsewhere, the highest niceness."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(NICENESS)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
