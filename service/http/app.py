"""The FastAPI application: the JSON API under /api, the dashboard at /, Prometheus metrics at /metrics.

Every read goes through the same readers as the CLI (service/inspection.py, service/status.py, service/history.py)
on a read-only engine; halt and resume go through service/gate_commands.py like `quantum-trader gate halt`. Served
for the running service, in a process of its own (service/http/process.py), what only the service knows (its
streams' health, its timings) is what it last sent over the link (service/http/link.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.resources import files
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import Engine, select

from persistence.position_details import PositionDetails
from persistence.tables import POSITIONS
from service import history, inspection
from service.http import schemas
from service.http.auth import AccessRules
from service.http.link import ServiceLink
from service.http.metrics import DatabaseCollector
from service.status import status_report

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
MAX_ID = 2**62  # beyond any row id, and within every backend's integer
STATIC = files("service.http") / "static"


@dataclass(frozen=True, slots=True)
class Backend:
    """What the app serves from: a read-only engine, and, for the running service, its commands and its link."""

    engine: Engine
    running: Callable[[], bool]
    command: Callable[[str, str], str] | None  # halt/resume -> outcome; None: a read-only server
    service: ServiceLink | None = None  # the running service's figures: its streams' health and timings


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"at most this many rows (max {MAX_LIMIT})")]
BeforeId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="only rows older than this id (paging back)")]
TIME_PATTERN = r"^([0-9]{1,15}|[0-9]{1,6}[smhd]|[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]{2,15})?(Z|[+-][0-9:]{4,5})?)$"
Time = Annotated[
    str | None,
    Query(
        max_length=40, pattern=TIME_PATTERN, description="ISO 8601 (UTC unless it says), 15m / 2h / 3d ago, or epoch ms"
    ),
]
PROBLEMS: dict[int | str, dict[str, Any]] = {code: {"model": schemas.Problem} for code in (400, 401, 403, 404)}


def _time(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return inspection.parse_time(text, datetime.now(UTC))
    except ValueError as error:
        raise HTTPException(400, str(error)) from None


def _page(items: list[dict[str, Any]], limit: int, oldest_first: bool = False) -> dict[str, Any]:
    """A page of rows; the oldest row's id is where the next (older) page starts, when this one was full."""
    oldest = (items[0] if oldest_first else items[-1]) if items else None
    more = oldest is not None and len(items) == limit
    return {"items": items, "limit": limit, "next_before_id": oldest["id"] if more and oldest else None}


def create_app(backend: Backend, rules: AccessRules) -> FastAPI:
    app = FastAPI(title="Quantum Trader", version="1", docs_url="/api/docs", redoc_url=None)
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(backend.engine, backend.running, backend.service))
    engine = backend.engine

    def may_read(authorization: Annotated[str | None, Header(include_in_schema=False)] = None) -> None:
        refusal = rules.read(authorization)
        if refusal is not None:
            raise HTTPException(refusal.status, refusal.message, headers={"WWW-Authenticate": "Bearer"})

    def may_write(authorization: Annotated[str | None, Header(include_in_schema=False)] = None) -> None:
        refusal = rules.write(authorization)
        if refusal is not None:
            raise HTTPException(refusal.status, refusal.message, headers={"WWW-Authenticate": "Bearer"})

    read = [Depends(may_read)]

    @app.get("/", include_in_schema=False, dependencies=read)
    def dashboard() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"))

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/metrics", include_in_schema=False, dependencies=read)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/status", response_model=schemas.Status, responses=PROBLEMS, dependencies=read)
    def status() -> dict[str, Any]:
        figures = backend.service.figures() if backend.service else None
        # The Status schema has no strategy figures (the status command shows them): not worth reading per poll.
        return status_report(engine, running=backend.running(), strategies=False) | {
            "streams": figures.health if figures else None,
            "last_event_age_s": figures.last_event_age_s if figures else None,
            "read_only": backend.command is None,
        }

    @app.get("/api/positions", response_model=schemas.PositionPage, responses=PROBLEMS, dependencies=read)
    def positions(
        state: Annotated[str | None, Query(max_length=24)] = None,
        symbol: Annotated[str | None, Query(max_length=32)] = None,
        open_only: Annotated[bool, Query(alias="open", description="only positions that are not final")] = False,
        limit: Limit = DEFAULT_LIMIT,
        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    ) -> dict[str, Any]:
        rows = inspection.positions(engine, open_only=open_only, symbol=symbol, state=state, limit=limit, offset=offset)
        return {"items": rows, "limit": limit, "offset": offset}

    @app.get(
        "/api/positions/{position_id}", response_model=schemas.PositionDetail, responses=PROBLEMS, dependencies=read
    )
    def position(position_id: str) -> dict[str, Any]:
        found = inspection.positions(engine, position_id=position_id)
        if not found:
            raise HTTPException(404, f"no position {position_id!r}")
        return {
            "position": found[0],
            "details": _details(engine, position_id),
            "orders": history.orders(engine, position_id=position_id, limit=MAX_LIMIT),
            "fills": history.fills(engine, position_id=position_id),
            "transitions": inspection.transitions(engine, position=position_id, limit=MAX_LIMIT),
        }

    @app.get("/api/transitions", response_model=schemas.Page[schemas.Transition], responses=PROBLEMS, dependencies=read)
    def transitions(
        machine: Annotated[str | None, Query(max_length=16)] = None,
        entity: Annotated[str | None, Query(max_length=64)] = None,
        since: Time = None,
        until: Time = None,
        before_id: BeforeId = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        rows = inspection.transitions(
            engine, machine=machine, entity=entity, since=_time(since), until=_time(until), before_id=before_id,
            limit=limit,
        )  # fmt: skip
        return _page(rows, limit, oldest_first=True)

    @app.get("/api/decisions", response_model=schemas.Page[schemas.Decision], responses=PROBLEMS, dependencies=read)
    def decisions(
        reason: Annotated[str | None, Query(max_length=32)] = None,
        symbol: Annotated[str | None, Query(max_length=32)] = None,
        since: Time = None,
        until: Time = None,
        before_id: BeforeId = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        rows = history.decisions(
            engine, reason=reason, symbol=symbol, since=_time(since), until=_time(until), before_id=before_id,
            limit=limit,
        )  # fmt: skip
        return _page(rows, limit)

    @app.get("/api/decisions/counts", response_model=list[schemas.DecisionCount], responses=PROBLEMS, dependencies=read)
    def decision_counts(
        since: Annotated[str, Query(max_length=40, pattern=TIME_PATTERN)] = "24h",
        until: Time = None,
        bucket_s: Annotated[int, Query(ge=60, le=7 * 86400, description="bucket width in seconds")] = 3600,
    ) -> list[dict[str, Any]]:
        start = _time(since)
        end = _time(until) or int(datetime.now(UTC).timestamp() * 1000)
        assert start is not None
        if (end - start) // (bucket_s * 1000) > 1000:
            raise HTTPException(400, "more than 1000 buckets: widen bucket_s or shorten the range")
        return history.decision_counts(engine, since=start, until=end, bucket_ms=bucket_s * 1000)

    @app.get(
        "/api/policies", response_model=schemas.Page[schemas.PolicySnapshot], responses=PROBLEMS, dependencies=read
    )
    def policies(
        since: Time = None, until: Time = None, before_id: BeforeId = None, limit: Limit = DEFAULT_LIMIT
    ) -> dict[str, Any]:
        rows = history.policies(engine, since=_time(since), until=_time(until), before_id=before_id, limit=limit)
        return _page(rows, limit)

    @app.get("/api/equity", response_model=schemas.Page[schemas.EquityPoint], responses=PROBLEMS, dependencies=read)
    def equity(
        since: Time = None, until: Time = None, before_id: BeforeId = None, limit: Limit = DEFAULT_LIMIT
    ) -> dict[str, Any]:
        rows = history.equity(engine, since=_time(since), until=_time(until), before_id=before_id, limit=limit)
        return _page(rows, limit, oldest_first=True)

    @app.get("/api/orders", response_model=schemas.Page[schemas.Order], responses=PROBLEMS, dependencies=read)
    def orders(
        position_id: Annotated[str | None, Query(max_length=64)] = None,
        before_id: BeforeId = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        return _page(history.orders(engine, position_id=position_id, before_id=before_id, limit=limit), limit)

    def gate_command(command: str, body: schemas.GateCommand) -> dict[str, Any]:
        assert backend.command is not None  # may_write refuses a read-only server first
        outcome = backend.command(command, body.reason)
        return {"outcome": outcome, "gate": inspection.gate(engine)}

    write = [Depends(may_read), Depends(may_write)]

    @app.post("/api/gate/halt", response_model=schemas.GateOutcome, responses=PROBLEMS, dependencies=write)
    def halt(body: schemas.GateCommand) -> dict[str, Any]:
        """The kill switch: no new entries until resumed (needs the bearer token)."""
        return gate_command("halt", body)

    @app.post("/api/gate/resume", response_model=schemas.GateOutcome, responses=PROBLEMS, dependencies=write)
    def resume(body: schemas.GateCommand) -> dict[str, Any]:
        """Reopen a halted gate (needs the bearer token)."""
        return gate_command("resume", body)

    @app.exception_handler(HTTPException)
    def problem(_: Any, error: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(error.detail)}, status_code=error.status_code, headers=error.headers)

    return app


def _details(engine: Engine, position_id: str) -> dict[str, Any]:
    """The position's details column through its one owner, as JSON (Decimals as strings)."""
    with engine.connect() as connection:
        raw = connection.execute(select(POSITIONS.c.details).where(POSITIONS.c.id == position_id)).scalar()
    try:
        view = PositionDetails.from_json(raw)
    except ValueError as error:
        return {"error": str(error)}
    return {key: str(value) if not isinstance(value, (int, float, dict)) and value is not None else value
            for key, value in asdict(view).items()}  # fmt: skip
