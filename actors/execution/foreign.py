"""Positions on the exchange that are not ours (in a symbol outside `symbols`): left alone, and kept in the database
as the last reconcile saw them (persistence/foreign_positions.py), so that `status` lists them."""

from __future__ import annotations

from collections.abc import Iterable

from actors.execution.journal import Journal
from exchange.port import ExchangePosition
from persistence import foreign_positions
from persistence.foreign_positions import ForeignPosition


class ForeignPositions:
    def __init__(self, journal: Journal, kept: tuple[ForeignPosition, ...]) -> None:
        """`kept`: what the database holds from before (a restart)."""
        self.journal = journal
        self.kept = kept

    def seen(self, held: Iterable[ExchangePosition], at: int) -> None:
        """What a reconcile found at `at` (every foreign position, none when there is none): written with the
        journal's next commit when there is any, or when the last ones are gone (then the row is deleted)."""
        since = {p.symbol: p.first_seen for p in self.kept}
        found = tuple(
            ForeignPosition(
                symbol=p.symbol,
                side="LONG" if p.quantity > 0 else "SHORT",
                quantity=abs(p.quantity),
                first_seen=since.get(p.symbol, at),
                last_seen=at,
            )
            for p in sorted(held, key=lambda p: p.symbol)
        )
        if not found and not self.kept:
            return
        self.kept = found
        self.journal.defer(lambda c: foreign_positions.save(c, found, at))
