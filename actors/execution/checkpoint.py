"""The paper account's save (`ExchangePort.to_state`), carried by the execution engine's own commits.

In the service (`with_commits`) the account is saved in the first commit after it changed, whatever that commit
is (a transition, the step's last writes, a write ahead): the database never holds a row that refers to a change of
the account that is not saved with it or before it, so a SIGKILL at any point leaves the two as of one commit; a
change not yet committed is lost together with the rows that would have referred to it (a restart looks the orders
up and finds the account as it was). An account that did not change is not saved again, so a quiet step saves it
once (its candles moved the prices), a step with no candle not at all. A replay saves it at stop only.
"""

from __future__ import annotations

from actors.clock import Clock
from exchange.port import ExchangePort
from persistence import records
from persistence.store import Also


class ExchangeCheckpoint:
    def __init__(self, exchange: ExchangePort, clock: Clock, *, with_commits: bool) -> None:
        self.exchange, self.clock, self.with_commits = exchange, clock, with_commits
        self.saved: int | None = None  # the revision this engine last committed (None: none yet)

    def due(self, *, at_stop: bool = False) -> tuple[Also, int] | None:
        """The save to add to the commit about to happen, with the revision it saves; None when none is due."""
        if not (self.with_commits or at_stop):
            return None
        revision = self.exchange.revision()
        if revision == self.saved:
            return None
        state = self.exchange.to_state()
        if state is None:  # the exchange keeps its own account
            self.saved = revision
            return None
        at = self.clock.now_ms()
        return (lambda c: records.save_exchange_state(c, records.PAPER_EXCHANGE_STATE, state, at)), revision

    def committed(self, revision: int) -> None:
        self.saved = revision
