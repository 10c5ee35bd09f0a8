"""An entry whose request timed out, a restart before Binance shows it, then its late fill.

The fake holds the entry's request past the client's timeout without executing it (`faults.late_order`): lookups
answer "Order does not exist." until it appears. A start that finds it missing must not write it off before
`exchange.never_placed_after_s` since it was sent, as the running reconcile does not: written off, its symbol is
free for a new position, and the late fill reopens it beside that one (one-way mode nets the two on the exchange,
and the gate halts on a side or quantity that disagrees). The real actors on virtual time, through the real
python-binance client against the fake server.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from scripts.fake_binance.fixtures import needs_shared_data
from scripts.fake_binance.server import FakeBinance
from tests.actors.harness import Harness
from tests.binance.conftest import trading_harness

pytestmark = needs_shared_data
SYMBOL = "BTCUSDT"
NEVER_PLACED_AFTER_S = 600  # ten of the harness's one-minute steps


@pytest.fixture
def trading(tmp_path: Path, fake_binance: FakeBinance, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QT_EXCHANGE__NEVER_PLACED_AFTER_S", str(NEVER_PLACED_AFTER_S))
    for h in trading_harness(tmp_path, fake_binance, timeout_s=0.5):
        assert h.settings.exchange.never_placed_after_s == NEVER_PLACED_AFTER_S
        yield h


def test_entry_not_found_at_start_stays_unresolved_and_its_late_fill_opens_it_alone(
    trading: Harness, fake_binance: FakeBinance
) -> None:
    h = trading
    fake_binance.faults.late_order(lookups=None, seconds=3600, hold_s=1.5)
    h.signal(SYMBOL, "LONG")
    h.step()  # the entry's request times out: its outcome is unknown
    [(position_id, state)] = h.rows("SELECT id, state FROM positions")
    assert state == "unknown"

    h.system.stop("a restart before Binance shows the order")
    h.system = h._start()  # the recovery looks the entry up: "Order does not exist."

    assert h.rows("SELECT state FROM positions") == [("unknown",)]  # not written off a moment after it was sent
    short = h.signal(SYMBOL, "SHORT")
    h.step()
    assert [(r, d) for s, r, d in h.decisions() if s == short] == [
        ("BLOCKED_BY_POSITION_LIMIT", f"{SYMBOL} already has a live position (one per symbol, one-way mode)")
    ]

    assert len(fake_binance.faults.release_late_orders()) == 1  # Binance shows it in the end, filled
    h.until(lambda: h.rows("SELECT state FROM positions") == [("open",)], limit=5)
    [(pid, side, filled)] = h.rows("SELECT id, side, filled_quantity FROM positions")
    [held] = [p for p in h.system.ctx.exchange.positions() if p.symbol == SYMBOL]
    assert (pid, side, held.quantity) == (position_id, "LONG", Decimal(str(filled)))
    assert h.gate()[0] != "halted"
    assert set(fake_binance.client_order_id_counts().values()) == {1}  # nothing sent twice
