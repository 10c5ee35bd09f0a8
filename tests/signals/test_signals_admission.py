"""The admission of a step's signals: one decision per id, too old ones recorded, the rest passed on. Pure."""

from __future__ import annotations

from actors.messages import DecisionReason, Side, Signal, position_id_for
from actors.signals.admission import Admission, Outcome

NOW = 1_700_000_000_000
MAX_AGE_MS = 60_000


def signal(signal_id: str = "s-1", *, at: int = NOW) -> Signal:
    return Signal(id=signal_id, at=at, symbol="BTCUSDT", side=Side.LONG, confidence=0.8, source="inbox")


def admission(decided: dict[str, str] | None = None, positions: dict[str, str] | None = None) -> Admission:
    return Admission(decided=decided or {}, positions=positions or {}, now=NOW, max_age_ms=MAX_AGE_MS)


def test_admission_new_signal_goes_on() -> None:
    verdict = admission().judge(signal())
    assert verdict.outcome is Outcome.FRESH and verdict.row is None


def test_admission_id_with_a_decision_is_skipped_with_its_reason_and_nothing_recorded() -> None:
    verdict = admission({"s-1": "BLOCKED_BY_GATE"}).judge(signal())
    assert verdict.outcome is Outcome.DECIDED and verdict.earlier == "BLOCKED_BY_GATE" and verdict.row is None


def test_admission_same_id_twice_in_one_step_second_skipped() -> None:
    judge = admission()
    assert judge.judge(signal()).outcome is Outcome.FRESH
    second = judge.judge(signal(at=NOW - 1))
    assert second.outcome is Outcome.DECIDED and second.earlier == "twice in one step"


def test_admission_signal_older_than_max_age_recorded_rejected_as_stale() -> None:
    verdict = admission().judge(signal(at=NOW - MAX_AGE_MS - 1))
    assert verdict.outcome is Outcome.RECORDED and verdict.row is not None
    assert verdict.row["reason"] == DecisionReason.REJECTED_AS_STALE == "REJECTED_AS_STALE"
    assert verdict.row["signal_id"] == "s-1" and verdict.row["at"] == NOW and verdict.row["position_id"] is None
    assert "60.0s old (max 60s)" in verdict.row["detail"]


def test_admission_signal_exactly_max_age_goes_on() -> None:
    assert admission().judge(signal(at=NOW - MAX_AGE_MS)).outcome is Outcome.FRESH


def test_admission_id_with_a_position_but_no_decision_recorded_from_the_position() -> None:
    pid = position_id_for("s-1")
    verdict = admission(positions={pid: "open"}).judge(signal(at=NOW - 10 * MAX_AGE_MS))
    assert verdict.outcome is Outcome.RECORDED and verdict.row is not None
    assert (verdict.row["reason"], verdict.row["position_id"]) == ("ACCEPTED", pid)
    assert "position" in verdict.row["detail"] and "open" in verdict.row["detail"]


def test_admission_id_with_a_rejected_position_recorded_rejected_by_exchange() -> None:
    verdict = admission(positions={position_id_for("s-1"): "rejected"}).judge(signal())
    assert verdict.row is not None and verdict.row["reason"] == "REJECTED_BY_EXCHANGE"
