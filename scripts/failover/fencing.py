"""What an owner paused past its lease did once resumed, while the standby it was replaced by trades.

Writes: every transition records the fencing token of the owner that wrote it (`transitions.lease_token`); a
transition after the takeover (its id above the mark taken then) that does not carry the new owner's token is a
fenced write that got through.

Orders: both instances share the database's client-id prefix, so an order request is attributed to a process by
its connection (`senders.py`): every order sent or cancelled (plain or algo) that reaches the fake server between
the old owner's SIGCONT and its exit, from a connection of the old owner, counts; so does one whose sender is not
known (a connection opened and closed between two looks), so the count errs towards finding too many.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from persistence.db import open_read_only
from persistence.tables import TRANSITIONS
from scripts.fake_binance.server import FakeBinance

ORDER_REQUESTS = {(method, path) for method in ("POST", "DELETE") for path in ("/fapi/v1/order", "/fapi/v1/algoOrder")}
_REFUSED = re.compile(r"(\d+) write\(s\) and (\d+) order\(s\) refused")


@dataclass(frozen=True, slots=True)
class Mark:
    """Where the database and the fake server's log of calls stood when the old owner was resumed."""

    transition_id: int
    calls: int


@dataclass(frozen=True, slots=True)
class OrderCall:
    request: str  # "POST /fapi/v1/order"
    client_id: str
    sender: int | None  # pid (None: not known)

    def describe(self) -> str:
        return f"{self.request} {self.client_id} from {self.sender or 'an unknown process'}"


class FencingLedger:
    def __init__(self, fake: FakeBinance, database_url: str) -> None:
        self.fake = fake
        self.engine = open_read_only(database_url)

    def mark(self) -> Mark:
        with self.engine.connect() as connection:
            last = connection.execute(select(func.max(TRANSITIONS.c.id))).scalar_one()
        return Mark(transition_id=int(last or 0), calls=len(self.fake.calls))

    def fenced_writes(self, mark: Mark, token: int) -> int:
        """Transitions after `mark` written without the new owner's `token`."""
        with self.engine.connect() as connection:
            count = connection.execute(
                select(func.count()).where(
                    TRANSITIONS.c.id > mark.transition_id,
                    or_(TRANSITIONS.c.lease_token.is_(None), TRANSITIONS.c.lease_token != token),
                )
            ).scalar_one()
        return int(count)

    def orders_since(self, mark: Mark, ports: dict[int, int]) -> list[OrderCall]:
        """The order requests that reached the fake server since `mark`, with their senders (`ports`: port -> pid)."""
        calls = list(zip(self.fake.calls[mark.calls :], self.fake.callers[mark.calls :], strict=False))
        return [
            OrderCall(
                request=f"{method} {path}",
                client_id=params.get("newClientOrderId")
                or params.get("clientAlgoId")
                or params.get("origClientOrderId")
                or "",
                sender=ports.get(port),
            )
            for (method, path, params), port in calls
            if (method, path) in ORDER_REQUESTS
        ]

    def close(self) -> None:
        self.engine.dispose()


def refused(log: str) -> tuple[int, int] | None:
    """(writes, orders) the old owner says it refused, from its last line; None if it did not say."""
    found = _REFUSED.findall(log)
    return (int(found[-1][0]), int(found[-1][1])) if found else None
