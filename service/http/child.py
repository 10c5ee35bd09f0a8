"""The HTTP process the service starts (service/http/process.py): `python -m service.http.child LISTEN_FD LINK_FD`.

It serves the API and dashboard on the socket the service bound, over the service's database, with the service's
access rules; halt and resume are queued in the database for the service, as `quantum-trader gate halt` does. It
exits when the link closes: the service stopped it, or is gone however it ended. It runs at a lower CPU priority
than the service: on a busy machine the scheduler gives the trading process the core first, and the page waits.
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

NICENESS = 10  # added to the service's: a tenth of its CPU share when both want a core (Linux's weights)


def main(listen_fd: int, link_fd: int) -> int:
    os.nice(NICENESS)
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


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
