"""The shipped Prometheus files: valid structure, every alert on a metric the service serves (promtool too, when
it is installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.service.http.test_http_live import FAMILIES

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"
ALERTS = {
    "QuantumTraderDown",
    "QuantumTraderHeartbeatStale",
    "QuantumTraderGateHalted",
    "QuantumTraderPositionUnprotected",
    "QuantumTraderStreamSilent",
}


def test_alert_rules_are_well_formed_and_name_served_metrics() -> None:
    document = yaml.safe_load((DEPLOY / "alerts.yml").read_text(encoding="utf-8"))
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} == ALERTS
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert re.fullmatch(r"[0-9]+[smh]", rule.get("for", "0m")), rule["alert"]
        for name in re.findall(r"quantum_trader_[a-z_]+", rule["expr"]):
            assert name in FAMILIES, f"{rule['alert']}: {name} is not served"
    if shutil.which("promtool"):
        result = subprocess.run(["promtool", "check", "rules", str(DEPLOY / "alerts.yml")], capture_output=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_scrape_config_reads_the_alerts_and_the_default_port() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["alerts.yml"]
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["static_configs"][0]["targets"] == ["127.0.0.1:8686"]
