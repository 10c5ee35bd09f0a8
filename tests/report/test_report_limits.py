"""The replay report's limits in force over time, from the policy snapshots: pure."""

from __future__ import annotations

from service.report.limits import limits_over_time


def policy(max_open: int, mode: str = "FAST_TP", allow: bool = True) -> dict[str, object]:
    return {
        "allow_new_trades": allow,
        "max_open_positions": max_open,
        "max_risk_pct": 0.01,
        "min_confidence": 0.45,
        "exit_mode": mode,
        "risk_profile": "SAFE",
    }


def test_each_value_holds_until_the_next_snapshot_and_the_last_until_the_end() -> None:
    limits = limits_over_time([(0, policy(5)), (600, policy(4, "DEFENSIVE_TRAIL")), (800, policy(5))], end_at=1000)
    assert limits["max_open_positions"] == {"values": {"5": 0.8, "4": 0.2}, "changes": 2}
    assert limits["exit_mode"] == {"values": {"FAST_TP": 0.8, "DEFENSIVE_TRAIL": 0.2}, "changes": 2}
    assert limits["allow_new_trades"] == {"values": {"yes": 1.0}, "changes": 0}
    assert limits["max_risk_pct"]["values"] == {"0.01": 1.0}


def test_no_enforced_policy_means_no_limits_of_its_own() -> None:
    assert limits_over_time([], end_at=1000) == {}
