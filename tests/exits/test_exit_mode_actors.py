"""The exit mode in force reaches open positions, through the real actors on virtual time and the paper exchange:
a more defensive mode tightens stop, target and trail (recorded as the position's transition, with the reason), a
less defensive one leaves them be, and recovery and adoption follow the mode in force."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.messages import ExitModeChange, MoveStop, PolicyUpdated
from actors.orchestrator.screen import static_policy
from actors.rounding import round_price_toward
from config.profiles import ExitMode
from exchange.port import OrderRequest, OrderSide, OrderType
from persistence import records
from tests.actors.harness import WIDE_STOPS, Harness

D = Decimal
SYMBOL = "BTCUSDT"


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path, exit_modes=WIDE_STOPS)
    try:
        yield h
    finally:
        h.stop()


def open_long(h: Harness) -> dict[str, Any]:
    h.calm(160)
    h.signal(SYMBOL, "LONG", 0.8)
    h.until(lambda: bool(h.positions()) and h.positions()[-1][1] == "open", limit=3)
    return position(h)


def position(h: Harness) -> dict[str, Any]:
    ((pid, mode, state, entry, stop, target, details),) = h.rows(
        "SELECT id, exit_mode, state, entry_price, stop_price, take_profit_price, details FROM positions"
    )
    return {
        "id": pid,
        "mode": mode,
        "state": state,
        "entry": D(entry),
        "stop": D(stop),
        "target": D(target),
        "trailing_pct": json.loads(details)["trailing_pct"],
    }


def mode_changes(h: Harness) -> list[tuple[str, str, str]]:
    return h.rows(  # type: ignore[return-value]
        "SELECT source, dest, reason FROM transitions WHERE trigger = 'change_exit_mode' ORDER BY id"
    )


def resting(h: Harness) -> dict[str, list[Decimal]]:
    """The position's protective orders resting on the paper exchange, by type, with their trigger prices."""
    found: dict[str, list[Decimal]] = {}
    for order in h.system.ctx.exchange.open_orders(SYMBOL):
        found.setdefault(str(order.type), []).append(order.trigger_price)
    return found


def policy_says(h: Harness, mode: ExitMode, note: str = "test policy") -> None:
    """What the orchestrator tells the exit actor when its policy's exit mode changes."""
    policy = dataclasses.replace(static_policy(h.settings), exit_mode=mode, note=note)
    h.system.ctx.registry.tell("exits", PolicyUpdated(at=h.clock.now_ms(), policy=policy, enforced=True))


def test_more_defensive_mode_tightens_an_open_position_and_records_why(harness: Harness) -> None:
    before = open_long(harness)
    assert before["mode"] in ("TREND_FOLLOW", "FAST_TP")  # a calm market: never DEFENSIVE_TRAIL
    policy_says(harness, ExitMode.DEFENSIVE_TRAIL, note="EXTREME volatility")
    harness.step()  # the exit actor asks at once; execution applies it before the step's end

    after = position(harness)
    assert after["mode"] == "DEFENSIVE_TRAIL" and after["state"] == "open"
    assert after["stop"] > before["stop"]  # in the position's favour
    assert after["target"] < before["target"]  # closer
    assert after["trailing_pct"] < before["trailing_pct"]
    # DEFENSIVE_TRAIL's own shape: the target 2R of its stop (both rounded toward the entry by under a tick).
    assert abs((after["target"] - after["entry"]) - 2 * (after["entry"] - after["stop"])) <= D("0.3")
    ((source, dest, reason),) = mode_changes(harness)
    assert (source, dest) == ("open", "open")
    assert reason.startswith(f"exit mode {before['mode']} -> DEFENSIVE_TRAIL (EXTREME volatility): ")
    assert f"stop {before['stop']} -> {after['stop']}" in reason
    assert f"take-profit {before['target']} -> {after['target']}" in reason
    # On the exchange: the new stop and target rest, the old ones were cancelled once they did.
    orders = resting(harness)
    assert orders["STOP_MARKET"] == [after["stop"]]
    assert after["target"] in orders["TAKE_PROFIT_MARKET"] and before["target"] not in orders["TAKE_PROFIT_MARKET"]


def test_less_defensive_mode_leaves_open_positions_as_they_are(harness: Harness) -> None:
    open_long(harness)
    policy_says(harness, ExitMode.DEFENSIVE_TRAIL)
    harness.step()
    tightened, orders = position(harness), resting(harness)
    policy_says(harness, ExitMode.FAST_TP)
    harness.step()
    policy_says(harness, ExitMode.TREND_FOLLOW)
    harness.calm(3)
    assert len(mode_changes(harness)) == 1
    now = position(harness)
    assert (now["mode"], now["target"], now["trailing_pct"]) == (
        "DEFENSIVE_TRAIL",
        tightened["target"],
        tightened["trailing_pct"],
    )
    assert now["stop"] >= tightened["stop"]  # trailing may only have moved it on in favour
    assert resting(harness)["TAKE_PROFIT_MARKET"] == orders["TAKE_PROFIT_MARKET"]


def test_mode_change_asking_a_looser_stop_and_further_target_moves_neither(harness: Harness) -> None:
    before = open_long(harness)
    orders = resting(harness)
    looser = ExitModeChange(
        exit_mode=ExitMode.DEFENSIVE_TRAIL,
        take_profit_price=before["target"] + 100,
        trailing_pct=before["trailing_pct"] * 2,
        trailing_start=D("1000"),
    )
    harness.system.ctx.registry.tell(
        "execution",
        MoveStop(
            position_id=before["id"], stop_price=before["stop"] - 100, reason="exit mode test", mode_change=looser
        ),
    )
    harness.step()
    after = position(harness)
    assert (after["stop"], after["target"], after["trailing_pct"]) == (
        before["stop"],
        before["target"],
        before["trailing_pct"],
    )
    assert resting(harness) == orders
    ((_, _, reason),) = mode_changes(harness)
    assert f"stop kept at {before['stop']}" in reason and f"take-profit kept at {before['target']}" in reason


def test_mode_change_whose_target_the_price_passed_takes_the_profit_at_market(harness: Harness) -> None:
    before = open_long(harness)
    price = D(str(harness.prices[SYMBOL]))
    passed = ExitModeChange(
        exit_mode=ExitMode.DEFENSIVE_TRAIL,
        take_profit_price=price - 10,  # below the market: a LONG's target already reached
        trailing_pct=before["trailing_pct"],
        trailing_start=D("1"),
    )
    harness.system.ctx.registry.tell(
        "execution",
        MoveStop(position_id=before["id"], stop_price=before["stop"], reason="exit mode test", mode_change=passed),
    )
    harness.until(lambda: harness.positions()[-1][1] == "closed", limit=3)
    assert harness.positions()[-1][2] == "take-profit already crossed on exit mode test"
    assert mode_changes(harness) == []  # closed instead


def test_restart_keeps_the_changed_mode_and_asks_nothing_again(harness: Harness) -> None:
    open_long(harness)
    policy_says(harness, ExitMode.DEFENSIVE_TRAIL)
    harness.step()
    tightened = position(harness)
    harness.restart()
    harness.calm(3)
    assert len(mode_changes(harness)) == 1
    assert position(harness)["mode"] == "DEFENSIVE_TRAIL"
    assert position(harness)["target"] == tightened["target"]


def _record_policy(h: Harness, mode: ExitMode) -> None:
    policy = dataclasses.replace(static_policy(h.settings), exit_mode=mode, note="EXTREME volatility")
    with h.engine.begin() as connection:
        records.insert_policy_snapshot(
            connection, at=h.clock.now_ms(), enforced=True, policy=dataclasses.asdict(policy), inputs={}, note=""
        )


def test_recovery_and_adoption_follow_the_mode_in_force(tmp_path: Path) -> None:
    h = Harness(tmp_path, symbols=(SYMBOL, "ETHUSDT"), exit_modes=WIDE_STOPS)
    try:
        before = open_long(h)

        def meanwhile(exchange: Any) -> None:
            # The last policy before the stop was DEFENSIVE_TRAIL, and someone bought ETH by hand.
            _record_policy(h, ExitMode.DEFENSIVE_TRAIL)
            exchange.place_order(
                OrderRequest(
                    client_order_id="web-manual-4",
                    symbol="ETHUSDT",
                    side=OrderSide.BUY,
                    type=OrderType.MARKET,
                    quantity=D("0.5"),
                )
            )
            exchange.on_candle(h.candle("ETHUSDT", 0.0))

        h.while_down(meanwhile)
        ((mode, entry, stop, target),) = h.rows(
            "SELECT exit_mode, entry_price, stop_price, take_profit_price FROM positions WHERE symbol = 'ETHUSDT'"
        )
        assert mode == "DEFENSIVE_TRAIL"
        # Adopted without an ATR stop: DEFENSIVE_TRAIL's 2% cap and its 2R target (4%).
        entry, tick = D(entry), D("0.01")
        assert D(stop) == round_price_toward(entry * D("0.98"), tick, entry)
        assert D(target) == round_price_toward(entry * D("1.04"), tick, entry)
        # The recovered BTC position takes on the mode in force once the new mode's stop is known (an ATR again).
        h.until(lambda: bool(mode_changes(h)), limit=30)
        ((_, _, reason),) = mode_changes(h)
        assert reason.startswith(f"exit mode {before['mode']} -> DEFENSIVE_TRAIL (the last policy recorded)")
        ((btc_mode, btc_stop),) = h.rows("SELECT exit_mode, stop_price FROM positions WHERE symbol = 'BTCUSDT'")
        # Today's ATR may be wider than at entry: the stop then stays (never looser), the trail still tightens.
        assert btc_mode == "DEFENSIVE_TRAIL" and D(btc_stop) >= before["stop"]
        assert "trailing from" in reason and "trailing from kept" not in reason
    finally:
        h.stop()
