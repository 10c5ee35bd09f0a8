"""`status` shows the protections beyond the day: a max drawdown halt as the gate's reason, and each symbol cooling
down after its stop-outs (read from the database the service wrote, no service running)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from typer.testing import CliRunner

from actors.messages import Regime, VolatilityLevel
from actors.orchestrator.policy import PolicyInputs, RiskState, compute_policy
from actors.protections import Cooldown
from config import Settings
from persistence import records
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import Store
from service.cli import app
from state_machines import gate_machine

NOW = 1_700_000_000_000


def make_db(db: Path) -> Cooldown:
    settings = Settings(symbols=("BTCUSDT", "ETHUSDT"))
    cooldown = Cooldown("ETHUSDT", NOW + 3_600_000, 3, 24.0)
    inputs = PolicyInputs(
        regime=Regime.SIDEWAYS,
        volatility=VolatilityLevel.NORMAL,
        risk_state=RiskState(peak_drawdown_pct=-0.104),
        symbols=settings.symbols,
        cooldowns=(cooldown,),
    )
    policy = compute_policy(inputs, settings.profile, settings.risk.profile, settings.risk)
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    store = Store(engine)
    store.ensure_gate(at=NOW)
    machine = gate_machine()
    gate, _ = store.load_gate(machine)
    assert gate is not None
    reason = policy.note.split("; ")[0]
    store.fire(machine, gate, "halt", reason=reason, at=NOW)
    store.write(
        lambda c: records.insert_policy_snapshot(
            c, at=NOW, enforced=True, policy=dataclasses.asdict(policy), inputs={}, note=policy.note
        )
    )
    store.close()
    engine.dispose()
    return cooldown


def status(db: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["status", "--db", str(db), *args], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_status_shows_the_max_drawdown_halt_and_the_cooldowns(tmp_path: Path) -> None:
    db = tmp_path / "qt.db"
    cooldown = make_db(db)
    text = status(db)
    assert "gate: halted Max drawdown from the equity peak hit (-10.40%, limit 10%): only an operator resumes" in text
    assert f"cool-down: {cooldown.describe()}" in text

    report = json.loads(status(db, "--json"))
    assert report["gate"]["state"] == "halted"
    assert report["policy"]["cooling_down"] == [["ETHUSDT", cooldown.describe()]]
