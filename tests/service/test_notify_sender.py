"""The notifier's own thread and bounded queue, against receivers on 127.0.0.1; the daily summary's day change."""

from __future__ import annotations

import logging
import time
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from actors.clock import VirtualClock
from persistence import records
from service.notify.follower import Follower
from service.notify.sender import Notice, Notifier
from tests.service.receivers import hanging_receiver, json_receiver

DAY_MS = 86_400_000


def test_notifier_full_queue_drops_the_oldest_and_logs_the_count_without_blocking(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with hanging_receiver() as receiver:
        notifier = Notifier([receiver.url], queue_size=2)
        notifier.start()
        notifier.post(Notice(title="first", body="held by the receiver"))
        assert receiver.accepted.wait(10)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="quantum_trader.notify"):
            for index in range(5):
                notifier.post(Notice(title=f"n{index}", body="queued"))
        posting_s = time.monotonic() - started
        assert notifier.dropped == 3
        assert [r.getMessage() for r in caplog.records][-1] == (
            "notification queue full (2): the oldest notice dropped, 3 dropped so far"
        )
        started = time.monotonic()
        notifier.close(0.2)
        assert time.monotonic() - started < 2.0  # a hung channel holds a stop only as long as allowed
    assert posting_s < 0.5, posting_s  # posting never waits on the channel


def test_notifier_refuses_a_url_apprise_cannot_send_to_without_showing_it(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), pytest.raises(ValueError) as refused:
        Notifier(["json://127.0.0.1/", "nosuchscheme://secret-token@host/"], queue_size=5)
    assert "entry 2" in str(refused.value) and "secret-token" not in str(refused.value)
    assert "secret-token" not in caplog.text


def test_follower_day_change_sends_yesterdays_summary(engine: Engine) -> None:
    start = 1_800_000_000_000 - 1_800_000_000_000 % DAY_MS  # a UTC midnight
    with engine.begin() as connection:
        records.insert_equity_snapshot(
            connection,
            at=start + 1000,
            equity=Decimal("10123.45"),
            wallet=Decimal("10123.45"),
            unrealized_pnl=Decimal(0),
            day_start_equity=Decimal("10000"),
            daily_drawdown_pct=0.0,
        )
    clock = VirtualClock(start + 3_600_000)
    with json_receiver() as receiver:
        notifier = Notifier([receiver.url], queue_size=10)
        notifier.start()
        follower = Follower(engine, clock, notifier, poll_s=0.05, daily=True)
        follower.start()
        clock.advance_to(start + DAY_MS + 5)
        notice = receiver.wait_for("daily summary", 10)
        follower.stop()
        notifier.close(5)
    assert notice["title"] == "daily summary 2027-01-15 (UTC)"
    assert notice["message"] == "0 trade(s) closed, PnL 0.00; equity 10123.45; gate not created"
