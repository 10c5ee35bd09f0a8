"""The protection invariant, checked while the service runs: after every step the crash test sees, each position
held on the exchange must have resting reduce-only stops of ours covering its whole quantity.

A position may lack one for a moment (its entry just filled, a further trade of it not yet covered, a stop being
replaced, a fault in the way); the service must cover it, or close it at market, within `exchange.protect_within_s`.
A check that finds a position uncovered for longer than that plus `CLOSE_GRACE_S` (the market close going through)
counts as `unprotected`. Only time while the service runs counts: the clock starts again at each restart.
"""

from __future__ import annotations

import time
from decimal import Decimal

from actors.execution.ids import parse_client_order_id
from scripts.crash.tally import Tally
from scripts.fake_binance.server import FakeBinance

CLOSE_GRACE_S = 3.0


class ProtectionWatch:
    def __init__(
        self, fake: FakeBinance, tally: Tally, protect_within_s: float, grace_s: float = CLOSE_GRACE_S
    ) -> None:
        self.fake, self.tally = fake, tally
        self.allowed_s = protect_within_s + grace_s
        self._since: dict[str, float] = {}  # symbol -> when it was first seen uncovered (this run of the service)

    def restarted(self) -> None:
        self._since.clear()

    def check(self, prefix: str, kill: int) -> None:
        """One look at the exchange; an uncovered position past the allowed time counts (once per check)."""
        now = time.monotonic()
        engine = self.fake.engine
        with engine.lock:
            held = {s: q for s, (q, _) in engine.positions.items() if q != 0}
            stops = [
                (a.symbol, a.side, a.quantity)
                for a in engine.algos.values()
                if a.status == "NEW"
                and a.order_type == "STOP_MARKET"
                and a.reduce_only
                and parse_client_order_id(prefix, a.client_algo_id) is not None
            ]
        self.tally.protection_checks += 1
        for symbol in list(self._since):
            if symbol not in held:
                del self._since[symbol]
        for symbol, quantity in held.items():
            close_side = "SELL" if quantity > 0 else "BUY"
            covered = sum((q for s, side, q in stops if s == symbol and side == close_side), Decimal(0))
            if covered >= abs(quantity):
                self._since.pop(symbol, None)
                continue
            since = self._since.setdefault(symbol, now)
            if now - since > self.allowed_s:
                self.tally.unprotected += 1
                key = f"{symbol}:{kill}"
                self.tally.unprotected_details.setdefault(
                    key,
                    f"kill {kill}: {symbol} {quantity} held, stops of ours cover {covered}, "
                    f"for {now - since:.1f}s (allowed {self.allowed_s:.0f}s)",
                )
