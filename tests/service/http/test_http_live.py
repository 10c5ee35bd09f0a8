"""The HTTP server of a real `run` process: metrics, the API against the database, auth, and the dashboard in
Debian's chromium driven by Playwright."""

from __future__ import annotations

import io
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from persistence.db import open_read_only, sqlite_url
from persistence.tables import GATE
from scripts.service_process import ServiceProcess
from service import inspection
from tests.service.http.conftest import TOKEN, WAIT_S, LiveService, service_env

FAMILIES = {
    "quantum_trader_running": "gauge",
    "quantum_trader_gate_state": "gauge",
    "quantum_trader_open_positions": "gauge",
    "quantum_trader_open_risk_usd": "gauge",
    "quantum_trader_open_notional_usd": "gauge",
    "quantum_trader_equity_usd": "gauge",
    "quantum_trader_unrealized_pnl_usd": "gauge",
    "quantum_trader_realized_pnl_usd": "gauge",
    "quantum_trader_unprotected_positions": "gauge",
    "quantum_trader_decisions": "counter",
    "quantum_trader_orders": "counter",
    "quantum_trader_exchange_errors": "counter",
    "quantum_trader_step_seconds": "histogram",
    "quantum_trader_tick_to_order_seconds": "histogram",
    "quantum_trader_stream_healthy": "gauge",
    "quantum_trader_last_event_age_seconds": "gauge",
    "quantum_trader_heartbeat_age_seconds": "gauge",
    "quantum_trader_lease_owner": "gauge",
    "quantum_trader_lease_token": "gauge",
}


def _post(live: LiveService, path: str, body: dict[str, str], token: str | None) -> tuple[int, str]:
    request = urllib.request.Request(
        live.base + path, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _gate_state(db: Path) -> str:
    engine = open_read_only(sqlite_url(db))
    try:
        with engine.connect() as connection:
            return str(connection.execute(select(GATE.c.state)).scalar_one())
    finally:
        engine.dispose()


def _scrape(live: LiveService) -> dict[str, Any]:
    status, text = live.get("/metrics")
    assert status == 200
    return {family.name: family for family in text_string_to_metric_families(text)}


def _entries_timed(families: dict[str, Any]) -> float:
    family = families.get("quantum_trader_tick_to_order_seconds")
    samples = {s.name: s.value for s in family.samples} if family else {}
    return float(samples.get("quantum_trader_tick_to_order_seconds_count", 0))


def test_metrics_scraped_from_run_hold_every_family_with_sane_values(live: LiveService) -> None:
    deadline = time.monotonic() + WAIT_S
    while not _entries_timed(families := _scrape(live)):  # the service sends its timings once a second
        assert time.monotonic() < deadline, "the entry order's tick-to-order never reached /metrics"
    for name, kind in FAMILIES.items():
        assert name in families, f"{name} missing from /metrics"
        assert families[name].type == kind, name
    value = {name: family.samples[0].value for name, family in families.items() if family.samples}
    assert value["quantum_trader_running"] == 1
    assert value["quantum_trader_open_positions"] >= 1
    assert value["quantum_trader_equity_usd"] > 0
    assert value["quantum_trader_open_notional_usd"] > 0 and value["quantum_trader_open_risk_usd"] > 0
    assert value["quantum_trader_unprotected_positions"] == 0  # every held position has its resting stop
    assert 0 <= value["quantum_trader_heartbeat_age_seconds"] < 30
    assert 0 <= value["quantum_trader_last_event_age_seconds"] < 30
    assert value["quantum_trader_lease_token"] >= 1
    gate = {s.labels["state"]: s.value for s in families["quantum_trader_gate_state"].samples}
    assert sum(gate.values()) == 1
    owner = families["quantum_trader_lease_owner"].samples[0]
    assert owner.labels["pid"] == str(live.process.process.pid)
    streams = {s.labels["stream"]: s.value for s in families["quantum_trader_stream_healthy"].samples}
    assert streams == {"market": 1.0, "exchange": 1.0}
    decisions = {s.labels["reason"]: s.value for s in families["quantum_trader_decisions"].samples}
    assert decisions.get("ACCEPTED", 0) >= 1
    tick = {s.name: s.value for s in families["quantum_trader_tick_to_order_seconds"].samples}
    assert tick["quantum_trader_tick_to_order_seconds_count"] >= 1
    assert 0 < tick["quantum_trader_tick_to_order_seconds_sum"] / tick["quantum_trader_tick_to_order_seconds_count"] < 5
    steps = {s.name: s.value for s in families["quantum_trader_step_seconds"].samples}
    assert steps["quantum_trader_step_seconds_count"] > steps.get("quantum_trader_tick_to_order_seconds_count", 0)


def test_api_positions_match_the_database(live: LiveService) -> None:
    engine = open_read_only(sqlite_url(live.db))
    try:
        page = live.json("/api/positions?limit=1000")
        expected = inspection.positions(engine, limit=1000)
        served = {row["id"]: row for row in page["items"]}
        same = [row for row in expected if row["id"] in served and served[row["id"]]["seq"] == row["seq"]]
        assert same, "no position read the same twice"  # one may change between the two reads: compare those
        for row in same:
            assert served[row["id"]] == row
        opened = live.json("/api/status")["positions"][0]["id"]
        detail = live.json(f"/api/positions/{opened}")
    finally:
        engine.dispose()
    assert [t["to"] for t in detail["transitions"]][:2] == ["pending_entry", "entry_submitted"]
    entry = detail["position"]["client_order_id"]
    assert [o["status"] for o in detail["orders"] if o["client_order_id"] == entry] == ["FILLED"]
    assert detail["fills"] and all("." in fill["price"] or fill["price"].isdigit() for fill in detail["fills"])
    status, body = live.get("/api/positions/no-such-position")
    assert status == 404 and "no-such-position" in body


def test_halt_without_or_with_a_wrong_token_is_refused_and_the_token_is_never_echoed(live: LiveService) -> None:
    assert _post(live, "/api/gate/halt", {"reason": "test"}, None)[0] == 401
    status, body = _post(live, "/api/gate/halt", {"reason": "test"}, TOKEN + "x")
    assert status == 401 and TOKEN not in body
    assert _gate_state(live.db) != "halted"
    for path in ("/api/status", "/metrics", "/openapi.json", "/"):
        assert TOKEN not in live.get(path, token=TOKEN)[1], path


def test_halt_and_resume_over_the_api_reach_the_running_services_gate(live: LiveService) -> None:
    status, body = _post(live, "/api/gate/halt", {"reason": "over the API"}, TOKEN)
    assert status == 200, body
    answer = json.loads(body)
    assert "applied by the running service" in answer["outcome"], answer  # the service's orchestrator applied it
    assert answer["gate"]["state"] == "halted" and _gate_state(live.db) == "halted"
    status, body = _post(live, "/api/gate/resume", {"reason": "API test done"}, TOKEN)
    assert status == 200 and "applied by the running service" in json.loads(body)["outcome"], body
    assert _gate_state(live.db) != "halted"
    live.process.wait_for("gate resumed by an operator (API test done)")  # in the service's own log


def test_run_with_its_port_in_use_says_so_once_and_trades_on(live: LiveService, tmp_path: Path) -> None:
    port = int(live.base.rsplit(":", 1)[1])
    second = ServiceProcess(("run",), tmp_path, service_env(port), wait_s=WAIT_S)
    try:
        line = second.wait_for("not served")
        assert f"127.0.0.1:{port}" in line and "trading goes on" in line
        second.wait_for("first step done: trading")
    finally:
        code = second.stop()
    assert code == 0
    assert sum("not served" in line for line in second.log) == 1


def _open_a_timeline(page: Any, playwright: Any) -> None:
    """Click an open position and see its transitions. The table is drawn again every few seconds and a position
    may close meanwhile (then its row goes): click whichever row is there, a few times at most."""
    for _ in range(5):
        try:
            page.locator("#positions tbody tr").first.click(timeout=5_000)
            playwright.expect(page.locator("#timeline li").first).to_contain_text("pending_entry", timeout=5_000)
            return
        except (AssertionError, playwright.Error):
            continue
    raise AssertionError("no position's transition timeline could be opened")


def test_dashboard_in_chromium_shows_the_database_and_halts_only_with_the_token(
    live: LiveService, tmp_path: Path
) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = Path("/usr/bin/chromium")
    assert chromium.exists(), "scripts/test.sh installs chromium with apt-get"
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(live.base + "/")
        gate = page.locator("#gate-state")
        playwright.expect(gate).to_have_text(_gate_state(live.db), timeout=15_000)
        first = page.locator("#positions tbody tr").first
        playwright.expect(first).to_be_visible(timeout=15_000)
        shown = [row.locator("td").all_inner_texts() for row in page.locator("#positions tbody tr").all()]
        engine = open_read_only(sqlite_url(live.db))
        try:
            for cells in shown:  # a position may close after the page drew it: what never changes must match
                (row,) = inspection.positions(engine, position_id=cells[0])
                assert cells[1:3] == [row["symbol"], row["side"]] and cells[5] == row["entry_price"], (cells, row)
        finally:
            engine.dispose()
        _open_a_timeline(page, playwright)

        page.once("dialog", lambda dialog: dialog.accept("wrong-token"))
        page.click("#halt")
        playwright.expect(page.locator("#command-result")).to_contain_text("refused (401)", timeout=15_000)
        assert _gate_state(live.db) != "halted"

        page.once("dialog", lambda dialog: dialog.accept(TOKEN))
        page.click("#halt")
        playwright.expect(gate).to_have_text("halted", timeout=40_000)
        assert _gate_state(live.db) == "halted"

        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    from PIL import Image

    colours = Image.open(io.BytesIO(shot.read_bytes())).convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50, "the screenshot is (nearly) blank"
    assert _post(live, "/api/gate/resume", {"reason": "test done"}, TOKEN)[0] == 200
