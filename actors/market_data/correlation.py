"""Return correlation between symbols (pure), kept by rolling sums so that a time step costs the same in the first
hour of a replay as in its last month.

Rule (what `Step.correlations` holds): the Pearson correlation of log close-to-close returns over the last `window`
returns of each symbol, the i-th last return of one paired with the i-th last of the other (symbols are fed in lock
step, one close per time step each, as the feeds deliver them; a symbol that missed a step is off by one candle).
A symbol with fewer than `window` returns, or whose returns are all equal over the window (a constant price), has
no correlation yet: its pairs are left out, and the risk controller counts an unknown pair as correlated.

Cost: each symbol keeps the sum and the sum of squares of its window's returns, each pair the sum of their products,
updated per return in O(1): add the term that came in, subtract the one that left. Rolling sums drift by rounding, so
a symbol's sums are recomputed from its window every `window` returns, and its pairs' with them: the drift stays
within `window` roundings (the correlations agree with numpy's two-pass computation to a few 1e-16), and the
recomputation costs O(1) per step on average. They are also recomputed at once when the spread has become small against
the squares that went through the sums since they were exact (a calm after a jump), where the rolling spread would
be mostly rounding. A pair whose symbols did not both move by one return (a gap in one of them) is recomputed from
the windows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from operator import mul

from actors.messages import Candle

# A spread below this share of the squares that went through the rolling sums has lost too many digits to rounding.
_CANCELLING = 1e-6


class ReturnWindow:
    """One symbol's last `size` log returns (a ring), with the rolling sum and sum of squares of their deviations
    from `shift`, the window's mean when the sums were last computed exactly: sums of deviations keep their
    precision when the mean is large against the spread (a steady trend), where raw sums would cancel."""

    __slots__ = (
        "_changes",
        "_ring",
        "_scale",
        "_since_exact",
        "count",
        "epoch",
        "last_close",
        "shift",
        "size",
        "spread",
        "squares",
        "total",
    )

    def __init__(self, size: int) -> None:
        if size < 2:
            raise ValueError("a correlation needs a window of at least two returns")
        self.size = size
        self.count = 0  # returns pushed so far
        self.last_close = math.nan
        self.shift = 0.0
        self.total = 0.0
        self.squares = 0.0
        # The sum of squared deviations from the window's mean, or 0.0 for a constant window (no correlation), kept
        # with the sums: `pairs` reads it for every pair every time step.
        self.spread = 0.0
        self.epoch = 0  # counts the exact recomputations: `shift` changes with each
        self._ring = [0.0] * size
        self._since_exact = 0
        self._scale = 0.0  # the squares added and taken away since the sums were exact: what rounding is relative to
        self._changes = 0  # adjacent returns in the window that differ: none means a constant series

    def push_close(self, close: float) -> tuple[float, float] | None:
        """Take the next close; returns the deviations from `shift` of the new return and of the one that left the
        window (of `shift` itself while the window fills), or None for the first close, which has no return."""
        last = self.last_close
        self.last_close = close
        if last != last:  # NaN: the first close
            return None
        # Cleaned candles have positive prices; anything else moved by nothing we can measure.
        value = math.log(close / last) if last > 0.0 and close > 0.0 else 0.0
        ring, size, n, shift = self._ring, self.size, self.count, self.shift
        slot = n % size
        left = shift
        if n >= size:
            left = ring[slot]
            if left != ring[(slot + 1) % size]:
                self._changes -= 1
        if n and value != ring[(slot - 1) % size]:
            self._changes += 1
        ring[slot] = value
        self.count = n + 1
        came, went = value - shift, left - shift
        self._since_exact += 1
        if self._since_exact >= size:
            self._recompute()
        else:
            total, squares = self.total + came - went, self.squares + came * came - went * went
            self.total, self.squares = total, squares
            self._scale += came * came + went * went
            spread = squares - total * total / size
            varies = self._changes > 0
            if varies and spread < _CANCELLING * self._scale:
                # The spread is small against the terms that went through the sums since they were exact (a calm
                # after a jump): it would be mostly their rounding, so take the sums exactly around the new mean.
                self._recompute()
            else:
                self.spread = spread if varies else 0.0
        return came, went

    def _recompute(self) -> None:
        ring = self._ring
        self.shift = shift = math.fsum(ring) / len(ring)
        self.total = math.fsum(x - shift for x in ring)
        self.squares = self._scale = math.fsum((x - shift) * (x - shift) for x in ring)
        self.spread = self.squares - self.total * self.total / self.size if self._changes else 0.0
        self.epoch += 1
        self._since_exact = 0

    def window(self) -> list[float]:
        """The returns of the window, oldest first (all `size` of them once `full`)."""
        n, size = self.count, self.size
        if n < size:
            return self._ring[:n]
        slot = n % size
        return self._ring[slot:] + self._ring[:slot]

    def deviations(self) -> list[float]:
        """`window()` less `shift`."""
        shift = self.shift
        return [x - shift for x in self.window()]


class _Pair:
    __slots__ = ("epoch_a", "epoch_b", "products")

    def __init__(self) -> None:
        self.products = 0.0  # the sum of the products of the two windows' deviations
        # The symbols' epochs `products` was computed at; other epochs, other shifts.
        self.epoch_a = self.epoch_b = -1


class RollingCorrelations:
    """The correlations of the module docstring for every pair of symbols fed to `update`."""

    def __init__(self, window: int) -> None:
        self.window = window
        self._returns: dict[str, ReturnWindow] = {}
        self._pairs: list[tuple[str, str, ReturnWindow, ReturnWindow, _Pair]] = []  # symbols with a full window

    def update(self, candles: Iterable[Candle]) -> None:
        """One time step: each candle's close (at most one per symbol)."""
        moved: dict[str, tuple[float, float]] = {}
        filled = False
        for candle in candles:
            returns = self._returns.get(candle.symbol)
            if returns is None:
                returns = self._returns[candle.symbol] = ReturnWindow(self.window)
            was_full = returns.count >= returns.size
            pushed = returns.push_close(candle.close)
            if was_full and pushed is not None:
                moved[candle.symbol] = pushed
            elif returns.count >= returns.size:
                filled = True
        if filled:
            self._pair_up()
        for a, b, returns_a, returns_b, pair in self._pairs:
            epoch_a, epoch_b = returns_a.epoch, returns_b.epoch
            moved_a, moved_b = moved.get(a), moved.get(b)
            if pair.epoch_a == epoch_a and pair.epoch_b == epoch_b:
                if moved_a is None and moved_b is None:
                    continue
                if moved_a is not None and moved_b is not None:
                    # Both windows moved by one: the new returns pair with each other, and so did the two that left.
                    pair.products += moved_a[0] * moved_b[0] - moved_a[1] * moved_b[1]
                    continue
            # A symbol's sums were recomputed (every `window` returns, which also bounds the drift of `products`),
            # or only one of the two moved: the windows pair differently now.
            pair.products = math.fsum(map(mul, returns_a.deviations(), returns_b.deviations()))
            pair.epoch_a, pair.epoch_b = epoch_a, epoch_b

    def _pair_up(self) -> None:
        """A symbol's window just filled: it pairs with each other full one, sorted by name."""
        known = {(a, b): pair for a, b, _, _, pair in self._pairs}
        ready = sorted(name for name, returns in self._returns.items() if returns.count >= returns.size)
        self._pairs = [
            (a, b, self._returns[a], self._returns[b], known.get((a, b)) or _Pair())
            for i, a in enumerate(ready)
            for b in ready[i + 1 :]
        ]

    def pairs(self) -> tuple[tuple[str, str, float], ...]:
        """(a, b, rho) with a < b, sorted, for each pair of symbols with a full window that varies."""
        window = self.window
        out = []
        for a, b, returns_a, returns_b, pair in self._pairs:
            spread_a, spread_b = returns_a.spread, returns_b.spread
            if spread_a <= 0.0 or spread_b <= 0.0:
                continue  # constant returns, or returns that differ by less than rounding: nothing we can measure
            rho = (pair.products - returns_a.total * returns_b.total / window) / math.sqrt(spread_a * spread_b)
            out.append((a, b, 1.0 if rho > 1.0 else -1.0 if rho < -1.0 else rho))
        return tuple(out)
