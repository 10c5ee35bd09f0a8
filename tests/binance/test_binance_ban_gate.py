"""An IP ban (HTTP 418) while trading: nothing is sent until it lifts, and the gate pauses with the reason meanwhile.

The real actors on virtual time (tests/actors/harness.py), the real python-binance client against the fake
server; the port's monotonic clock is the test's, so the ban lifts when the test says.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.binance.account import BinanceExchange
from scripts.fake_binance.fixtures import TEST_KEY, TEST_SECRET
from scripts.fake_binance.server import FakeBinance
from tests.actors.harness import WIDE_STOPS, Harness

SYMBOL = "BTCUSDT"


class ManualClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["policy", "static"])
def banned(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    fake_binance: FakeBinance,
) -> Iterator[tuple[Harness, ManualClock]]:
    """With the policy engine driving the gate, and with it switched off (the static policy): the pause holds both
    ways."""
    fake_binance.set_price(SYMBOL, "20000")
    clock = ManualClock()

    def port() -> BinanceExchange:
        return BinanceExchange(
            api_key=TEST_KEY,
            api_secret=TEST_SECRET,
            base_url=fake_binance.base_url,
            symbols=(SYMBOL,),
            leverage=5,
            timeout_s=2.0,
            reconnect_delay_s=0.05,
            stream_silence_s=3600,  # the clock jumps past the ban at once: no time to ping the quiet stream
            monotonic=clock,
        ).start()

    flags = {} if request.param == "policy" else {"orchestrator": {"flags": {"enable_orchestrator": False}}}
    h = Harness(tmp_path, exchange=port, exit_modes=WIDE_STOPS, **flags)
    try:
        yield h, clock
    finally:
        h.stop()


def test_ban_pauses_the_gate_sends_nothing_and_reopens_when_it_lifts(
    banned: tuple[Harness, ManualClock], fake_binance: FakeBinance
) -> None:
    h, clock = banned
    h.calm(160)
    assert h.gate()[0] == "open"
    fake_binance.faults.ban_next(120, path="/fapi/v3/balance")

    h.step()  # the step's balance read is banned: the port blocks itself for 120 s
    state, reason, _ = h.gate()
    assert state == "paused" and "IP banned by the exchange (HTTP 418)" in reason and "nothing is sent until" in reason
    sent = len(fake_binance.requests)
    signal_id = h.signal(SYMBOL, "LONG", 0.9)
    h.calm(3)
    assert len(fake_binance.requests) == sent  # not one request while banned
    decisions = [d for d in h.decisions() if d[0] == signal_id]
    if h.settings.orchestrator.flags.enable_orchestrator:
        assert decisions and decisions[0][1] == "BLOCKED_BY_GATE"
        assert h.positions() == []
    else:  # the static baseline stops signals only on a halt: the port refuses the order without sending it
        assert decisions and decisions[0][1:] == ("REJECTED_BY_EXCHANGE", "rate limited (120.0s)")
        assert [p[1] for p in h.positions()] == ["cancelled"]

    clock.now += 121
    fake_binance.faults.lift_ban()  # the fake's clock is the wall's: end its ban with the client's
    h.step()
    assert h.gate()[0] == "open"
    assert h.gate_triggers()[-2:] == ["pause", "clear"]
    h.signal(SYMBOL, "LONG", 0.9)
    h.until(lambda: any(p[1] == "open" for p in h.positions()), limit=10)  # trading goes on
