"""The log lines an operator follows, through the real actors (caplog): one per policy change, one per decision
(every one with `log_all_signals`, else accepted ones and exchange refusals only), one per sizing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from actors.decisions import decision_line, is_logged, log_decisions
from tests.actors.harness import Harness

WARM = 160


@pytest.fixture
def harness(tmp_path: Path):  # type: ignore[no-untyped-def]
    made: list[Harness] = []

    def make(**overrides):  # type: ignore[no-untyped-def]
        made.append(Harness(tmp_path, **overrides))
        return made[-1]

    yield make
    for h in made:
        h.stop()


def lines(caplog: pytest.LogCaptureFixture, logger: str, start: str = "") -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.getMessage().startswith(start)]


def test_logs_policy_sizing_and_every_decision_with_log_all_signals(harness, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    h = harness()
    h.calm(WARM)
    (first,) = lines(caplog, "quantum_trader.orchestrator", "policy in force: ")
    assert "allow_new_trades True" in first and "; note: " in first

    accepted = h.signal("BTCUSDT", "LONG", 0.8)
    timid = h.signal("BTCUSDT", "SHORT", 0.3)
    h.step()
    (sizing,) = lines(caplog, "quantum_trader.risk", "sizing BTCUSDT LONG")
    assert f"(signal {accepted}, confidence 0.80): " in sizing and "terms: max risk 1.00%, profile SAFE" in sizing
    decisions = lines(caplog, "quantum_trader.decisions")
    assert any(
        line.startswith(f"decision ACCEPTED: signal {accepted} BTCUSDT LONG confidence 0.80") for line in decisions
    )
    assert any(line.startswith(f"decision BLOCKED_BY_CONFIDENCE: signal {timid} BTCUSDT SHORT") for line in decisions)
    assert len(decisions) == 2  # one line per decision

    before = len(lines(caplog, "quantum_trader.orchestrator", "policy changed: "))
    h.step(BTCUSDT=-0.06)  # EXTREME volatility: the policy changes, and says why
    changes = lines(caplog, "quantum_trader.orchestrator", "policy changed: ")
    assert len(changes) == before + 1
    assert "allow_new_trades True -> False" in changes[-1] and "-> DEFENSIVE_TRAIL" in changes[-1]
    assert "; note: " in changes[-1] and "EXTREME volatility" in changes[-1].split("; note: ")[1]


def test_logs_without_log_all_signals_only_accepted_decisions(harness, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    h = harness(orchestrator={"flags": {"log_all_signals": False}})
    h.calm(WARM)
    accepted = h.signal("BTCUSDT", "LONG", 0.8)
    h.signal("BTCUSDT", "SHORT", 0.3)
    h.step()
    decisions = lines(caplog, "quantum_trader.decisions")
    assert len(decisions) == 1 and decisions[0].startswith(f"decision ACCEPTED: signal {accepted}")
    assert len(h.decisions()) == 2  # both still recorded
    assert len(lines(caplog, "quantum_trader.risk", "sizing BTCUSDT LONG")) == 1


def row(reason: str) -> dict[str, object]:
    return dict(
        signal_id="s1", at=0, symbol="ETHUSDT", side="SHORT", confidence=0.7, source="inbox", reason=reason,
        detail="-2019 Margin is insufficient.", position_id="p-1",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("reason", "log_all", "logged"),
    [
        ("ACCEPTED", False, True),
        ("REJECTED_BY_EXCHANGE", False, True),
        ("BLOCKED_BY_GATE", False, False),
        ("REJECTED_BY_SIZING", False, False),
        ("BLOCKED_BY_GATE", True, True),
    ],
)
def test_is_logged_accepted_and_exchange_refusals_always(reason: str, log_all: bool, logged: bool) -> None:
    assert is_logged(reason, log_all) is logged


def test_log_decisions_exchange_refusal_is_a_warning(caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    log_decisions([row("REJECTED_BY_EXCHANGE")], log_all=False)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == decision_line(row("REJECTED_BY_EXCHANGE"))
    assert record.getMessage() == (
        "decision REJECTED_BY_EXCHANGE: signal s1 ETHUSDT SHORT confidence 0.70 (inbox) -> p-1: "
        "-2019 Margin is insufficient."
    )
