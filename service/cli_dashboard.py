"""`quantum-trader dashboard`: the dashboard and API, read-only, over any database (a replay's too)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from persistence.db import open_read_only
from service.cli_common import AccountOption, ConfigOption, DbOption, clean_errors, command_settings, errors, fail
from service.lock import service_running
from service.logs import configure


def dashboard(
    db: DbOption = None,
    config: ConfigOption = None,
    account: AccountOption = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on; default: http.host.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port; default: http.port.", min=1, max=65535)] = None,
) -> None:
    """Serve the dashboard and the HTTP API read-only over a database (halt and resume are refused). Ctrl-C stops."""
    from service.http import server  # the web stack, imported by the commands that serve it
    from service.http.app import Backend, create_app
    from service.http.auth import AccessRules, refuse_to_start

    with clean_errors():
        settings = command_settings(config, db, account)
        url = settings.database.url
        engine = open_read_only(url)
    host = host or settings.http.host
    port = port or settings.http.port
    token = server.token(settings)
    if why := refuse_to_start(host, token):
        fail(why)
    backend = Backend(engine=engine, running=lambda: service_running(url), command=None)
    app = create_app(backend, AccessRules(host=host, token=token, writable=False))
    configure(json_lines=False, level=logging.INFO)
    errors.print(f"dashboard at {server.url(host, port)} (read-only; Ctrl-C stops)", soft_wrap=True)
    try:
        server.HttpServer(app).serve_forever(server.bind(host, port))
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror or error}")
    finally:
        engine.dispose()
