"""The symbols' trading rules are read again by the execution engine, their one owner: every
`exchange.refresh_filters_every_s` on the engine's (virtual) clock, and at the step after an order was refused for
them. The real actors (tests/actors/harness.py), the real python-binance client, the fake server's
`faults.change_filters`."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from exchange.binance.account import BinanceExchange
from scripts.fake_binance.fixtures import TEST_KEY, TEST_SECRET, needs_shared_data
from scripts.fake_binance.server import FakeBinance
from tests.actors.harness import WIDE_STOPS, Harness

pytestmark = needs_shared_data
SYMBOL = "BTCUSDT"
D = Decimal


def port(fake_binance: FakeBinance) -> Callable[[], BinanceExchange]:
    fake_binance.set_price(SYMBOL, "20000")
    return lambda: BinanceExchange(
        api_key=TEST_KEY,
        api_secret=TEST_SECRET,
        base_url=fake_binance.base_url,
        symbols=(SYMBOL,),
        timeout_s=2.0,
        reconnect_delay_s=0.05,
    ).start()


def exchange_info_reads(fake_binance: FakeBinance) -> int:
    return sum(1 for _, path in fake_binance.requests if path.endswith("/exchangeInfo"))


def test_filters_are_read_again_when_the_refresh_interval_has_passed_on_the_engine_clock(
    tmp_path: Path, fake_binance: FakeBinance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QT_EXCHANGE__REFRESH_FILTERS_EVERY_S", "300")
    h = Harness(tmp_path, exchange=port(fake_binance))
    assert h.settings.exchange.refresh_filters_every_s == 300
    try:
        fake_binance.faults.change_filters(SYMBOL, tick_size="0.50", step_size="0.01", min_qty="0.01")
        reads = exchange_info_reads(fake_binance)
        for _ in range(4):  # a step is a minute of the engine's clock: 4 minutes since its start
            h.step()
        assert h.system.ctx.exchange.symbol_filters(SYMBOL).tick_size == D("0.10")  # not due yet
        assert exchange_info_reads(fake_binance) == reads
        h.step()  # 5 minutes
        filters = h.system.ctx.exchange.symbol_filters(SYMBOL)
        assert (filters.tick_size, filters.step_size) == (D("0.50"), D("0.01"))
        assert exchange_info_reads(fake_binance) == reads + 1
        for _ in range(4):
            h.step()
        assert exchange_info_reads(fake_binance) == reads + 1  # the next one is 5 minutes after this one
        h.step()
        assert exchange_info_reads(fake_binance) == reads + 2
    finally:
        h.stop()


def test_an_entry_refused_for_changed_rules_has_them_read_again_at_the_next_step_and_the_next_entry_fits(
    tmp_path: Path, fake_binance: FakeBinance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QT_EXCHANGE__REFRESH_FILTERS_EVERY_S", "86400")  # not the timer: the refusal
    h = Harness(tmp_path, exchange=port(fake_binance), exit_modes=WIDE_STOPS)
    try:
        h.calm(160)
        fake_binance.faults.change_filters(SYMBOL, step_size="0.01", min_qty="0.01")
        h.signal(SYMBOL, "LONG", 0.9)
        h.until(lambda: bool(h.decisions()), limit=3)
        ((_, reason, detail),) = h.decisions()
        assert reason == "REJECTED_BY_EXCHANGE" and detail.split()[0] in ("-1111", "-4023")
        reads = exchange_info_reads(fake_binance)
        h.step()
        assert h.system.ctx.exchange.symbol_filters(SYMBOL).step_size == D("0.01")
        assert exchange_info_reads(fake_binance) == reads + 1
        h.signal(SYMBOL, "LONG", 0.9)
        h.until(lambda: len(h.decisions()) == 2, limit=3)
        assert h.decisions()[1][1] == "ACCEPTED"
        h.until(lambda: any(p[1] == "open" for p in h.positions()), limit=5)
        ((quantity,),) = h.rows("SELECT filled_quantity FROM positions WHERE state = 'open'")
        assert D(quantity) % D("0.01") == 0  # sized to the rules read again
    finally:
        h.stop()
