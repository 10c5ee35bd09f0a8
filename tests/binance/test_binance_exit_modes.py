"""A more defensive exit mode moves a resting take-profit and stop on an exchange that behaves as Binance does: the
real actors on virtual time (tests/actors/harness.py), the real python-binance client against the fake server, whose
conditional orders live in its Algo Service (replaced: the new one placed, then the old one cancelled)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from actors.messages import PolicyUpdated
from actors.orchestrator.screen import static_policy
from config.profiles import ExitMode
from scripts.fake_binance.server import FakeBinance
from tests.actors.harness import Harness

SYMBOL = "BTCUSDT"


def _algos(fake: FakeBinance) -> dict[str, list[tuple[str, Decimal]]]:
    """Our conditional orders on the fake server by type: (status, trigger price), oldest first."""
    found: dict[str, list[tuple[str, Decimal]]] = {}
    with fake.engine.lock:
        for algo in sorted(fake.engine.algos_by_cid.values(), key=lambda a: a.algo_id):
            if algo.symbol == SYMBOL:
                found.setdefault(algo.order_type, []).append((algo.status, algo.trigger_price))
    return found


def test_defensive_mode_replaces_the_resting_take_profit_and_stop_on_binance(
    trading: Harness, fake_binance: FakeBinance
) -> None:
    trading.signal(SYMBOL, "LONG", 0.9)
    trading.until(lambda: any(p[1] == "open" for p in trading.positions()), limit=10)
    ((stop, target, partial),) = trading.rows(
        "SELECT stop_price, take_profit_price, json_extract(details, '$.partial_price') FROM positions"
    )
    old_stop, old_target = Decimal(stop), Decimal(target)
    assert ("NEW", old_target) in _algos(fake_binance)["TAKE_PROFIT_MARKET"]

    policy = dataclasses.replace(static_policy(trading.settings), exit_mode=ExitMode.DEFENSIVE_TRAIL)
    trading.system.ctx.registry.tell("exits", PolicyUpdated(at=trading.clock.now_ms(), policy=policy, enforced=True))
    trading.step()

    ((mode, stop, target),) = trading.rows("SELECT exit_mode, stop_price, take_profit_price FROM positions")
    new_stop, new_target = Decimal(stop), Decimal(target)
    assert mode == "DEFENSIVE_TRAIL" and new_stop > old_stop and new_target < old_target
    algos = _algos(fake_binance)
    resting_targets = [price for status, price in algos["TAKE_PROFIT_MARKET"] if status == "NEW"]
    assert sorted(resting_targets) == sorted([new_target, Decimal(partial)])  # the partial take-profit stays
    assert ("CANCELED", old_target) in algos["TAKE_PROFIT_MARKET"]
    assert [price for status, price in algos["STOP_MARKET"] if status == "NEW"] == [new_stop]
    assert ("CANCELED", old_stop) in algos["STOP_MARKET"]
