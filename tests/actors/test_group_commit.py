"""Group commit: what execution learns in a step (fills, transitions, order states) and the entries it is about to
send commit together in one transaction, before any order leaves; the sends' outcomes join the next one."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event

from actors.messages import position_id_for
from config.sections import PaperSettings
from exchange.paper.exchange import PaperExchange
from exchange.port import OrderRequest, OrderState
from tests.actors.harness import WIDE_STOPS, Harness


class Witness(PaperExchange):
    """The paper exchange, noting for each entry order what the database already held when it left."""

    seen: list[dict[str, Any]]
    read: Any

    def place_order(self, request: OrderRequest) -> OrderState:
        if "-e-" in request.client_order_id:
            self.seen.append(self.read(request.client_order_id))
        return super().place_order(request)


def test_a_step_that_closes_one_position_and_opens_another_commits_once_before_the_entry_leaves(
    tmp_path: Path,
) -> None:
    commits: list[str] = []  # the thread of each commit made on the database
    made: list[Witness] = []

    def exchange() -> Witness:
        made.append(Witness.from_settings(PaperSettings()))  # type: ignore[arg-type]
        made[-1].seen, made[-1].read = [], durable
        return made[-1]

    def durable(client_order_id: str) -> dict[str, Any]:
        return {
            "commits": list(commits),
            "order": h.rows("SELECT status FROM orders WHERE client_order_id = :c", c=client_order_id),
            "transitions": h.rows("SELECT entity_id, trigger FROM transitions WHERE machine = 'position' ORDER BY id"),
        }

    h = Harness(tmp_path, symbols=("BTCUSDT", "ETHUSDT"), exchange=exchange, exit_modes=WIDE_STOPS)
    try:
        event.listen(h.engine, "commit", lambda _connection: commits.append(threading.current_thread().name))
        h.calm(40)
        first = position_id_for(h.signal("BTCUSDT", "LONG"))
        h.until(lambda: h.rows("SELECT state FROM positions WHERE id = :p", p=first) == [("open",)], limit=3)
        second = position_id_for(h.signal("ETHUSDT", "LONG"))
        commits.clear()

        h.step(BTCUSDT=-0.05)  # through the first one's stop; the second one's signal is read in the same step

        assert h.rows("SELECT id, state FROM positions ORDER BY created_at") == [
            (first, "closed"),
            (second, "entry_submitted"),
        ]
        first_send, at_send = made[-1].seen  # the two entries' orders, as each left
        by_execution = [name for name in at_send["commits"] if name.startswith("ExecutionActor")]
        assert len(by_execution) == 1, at_send["commits"]  # one commit of execution before the entry left ...
        # ... holding what the step learned (the first position's stop filled) and the new position, written ahead
        assert (first, "exit_filled") in at_send["transitions"]
        assert (second, "create") in at_send["transitions"]
        assert first_send["order"] == at_send["order"] == [("PENDING",)]
        # The send's outcome joined the step's last transaction: two commits of execution in the whole step.
        assert len([name for name in commits if name.startswith("ExecutionActor")]) == 2
        assert (second, "submit") in h.rows("SELECT entity_id, trigger FROM transitions WHERE machine = 'position'")
    finally:
        h.stop()
