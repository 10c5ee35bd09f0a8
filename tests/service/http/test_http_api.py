"""The API in process on a real run's database: its OpenAPI document fuzzed with schemathesis, the auth rules,
the read-only dashboard, and the refusals at start."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from typer.testing import CliRunner

from persistence.db import open_read_only, sqlite_url
from service.cli import app as cli
from service.http.app import Backend, create_app
from service.http.auth import AccessRules, is_loopback
from tests.service.http.conftest import TOKEN, LiveService


def _client(db: Path, *, host: str = "127.0.0.1", token: str | None = None) -> TestClient:
    backend = Backend(engine=open_read_only(sqlite_url(db)), running=lambda: False, command=None)
    return TestClient(create_app(backend, AccessRules(host=host, token=token, writable=False)))


def test_api_fuzzed_against_its_own_openapi_document_never_fails_nor_breaks_its_schema(live: LiveService) -> None:
    app = _client(live.db).app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            # No 5xx, and every response matches its documented schema. A well-formed time that is no date (month 13)
            # is a documented 400, so "schema-valid data is accepted" does not hold by design and is left out.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        check()


def test_read_only_dashboard_refuses_halt_with_a_message(live: LiveService) -> None:
    client = _client(live.db, token=TOKEN)
    response = client.post("/api/gate/halt", json={"reason": "x"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 403 and "read-only" in response.json()["detail"]
    assert client.get("/api/status").json()["read_only"] is True


def test_off_loopback_every_request_needs_the_token(live: LiveService) -> None:
    client = _client(live.db, host="0.0.0.0", token=TOKEN)
    assert client.get("/api/status").status_code == 401
    assert client.get("/metrics").status_code == 401
    assert client.get("/api/status", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/status", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_halt_without_a_configured_token_is_refused_naming_the_variable(live: LiveService) -> None:
    rules = AccessRules(host="127.0.0.1", token=None, writable=True)
    refusal = rules.write("Bearer anything")
    assert refusal is not None and refusal.status == 403 and "QT_HTTP__TOKEN" in refusal.message
    assert AccessRules(host="127.0.0.1", token=TOKEN, writable=True).write(f"Bearer {TOKEN}") is None
    assert is_loopback("::1") and is_loopback("localhost") and not is_loopback("0.0.0.0")


def test_paging_back_through_transitions_visits_each_row_once(live: LiveService) -> None:
    client = _client(live.db)
    seen: list[int] = []
    before: int | None = None
    for _ in range(5):
        page = client.get("/api/transitions", params={"limit": 3, **({"before_id": before} if before else {})}).json()
        seen.extend(row["id"] for row in page["items"])
        before = page["next_before_id"]
        if before is None:
            break
    assert len(seen) == len(set(seen)) >= 6
    assert client.get("/api/transitions", params={"limit": 5000}).status_code == 422  # above the maximum
    assert client.get("/api/decisions", params={"since": "yesterday"}).status_code == 422  # not a time's shape
    bad_date = client.get("/api/decisions", params={"since": "2026-13-45"})
    assert bad_date.status_code == 400 and "is not a time" in bad_date.json()["detail"]


@pytest.mark.parametrize("command", [("run",), ("dashboard",)])
def test_binding_off_loopback_without_a_token_is_refused_at_start(
    command: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, live: LiveService
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QT_HTTP__HOST", "0.0.0.0")
    monkeypatch.delenv("QT_HTTP__TOKEN", raising=False)
    result = CliRunner().invoke(cli, [*command, "--db", str(live.db)])
    assert result.exit_code == 2
    assert "not a loopback address" in result.output and "QT_HTTP__TOKEN" in result.output


def test_a_token_in_a_settings_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(f'[http]\ntoken = "{TOKEN}"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check", str(config)])
    assert result.exit_code == 2
    assert "QT_HTTP__TOKEN" in result.output and TOKEN not in result.output
