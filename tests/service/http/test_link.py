"""The HTTP process's end of the link: it serves the service's last figures, brought up to date, and none once
they are stale or the service is gone."""

from __future__ import annotations

import socket
import threading

from service.http import link
from service.http.link import STALE_AFTER_S, ServiceLink

METRICS = (
    "# HELP quantum_trader_step_seconds Step\n"
    "# TYPE quantum_trader_step_seconds gauge\n"
    "quantum_trader_step_seconds 0.5\n"
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_link_serves_the_first_figures_with_the_events_age_brought_up_to_now() -> None:
    service, child = socket.socketpair()
    clock = Clock()
    ours = ServiceLink(child, clock)
    link.send(service, link.figures_message({"market": "", "exchange": "stale"}, 2.0, METRICS))
    ours.listen(on_closed=lambda: None)
    clock.now += 1.5
    figures = ours.figures()
    assert figures is not None
    assert figures.health == {"market": "", "exchange": "stale"}
    assert figures.last_event_age_s == 3.5
    assert [family.name for family in figures.metrics] == ["quantum_trader_step_seconds"]
    service.close()


def test_link_serves_no_figures_once_they_are_stale() -> None:
    service, child = socket.socketpair()
    clock = Clock()
    ours = ServiceLink(child, clock)
    link.send(service, link.figures_message({}, None, ""))
    ours.listen(on_closed=lambda: None)
    clock.now += STALE_AFTER_S
    figures = ours.figures()
    assert figures is not None and figures.last_event_age_s is None  # no candle yet: no age to bring up to date
    clock.now += 0.1
    assert ours.figures() is None
    service.close()


def test_link_keeps_the_newest_figures_and_serves_none_once_the_service_is_gone() -> None:
    service, child = socket.socketpair()
    closed = threading.Event()
    ours = ServiceLink(child, Clock())
    link.send(service, link.figures_message({"market": "old"}, None, ""))
    ours.listen(on_closed=closed.set)
    link.send(service, link.figures_message({"market": "new"}, None, ""))
    service.shutdown(socket.SHUT_WR)  # the reader sees the second line, then the end
    assert closed.wait(10)
    assert ours.figures() is None
    assert ours.latest is not None and ours.latest[1].health == {"market": "new"}
    service.close()
