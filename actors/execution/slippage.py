"""Realised slippage: how far each fill went from the price when it was decided, per symbol over recent fills. Pure.

The price at decision time is, for an entry, the price risk sized it at (the step's last close); for a stop-loss
or a take-profit, its trigger price: what the position was planned to get. A market exit the service decided has
no such price on record and is not measured. Slippage is a cost when positive: a buy above its price, a sell
below it; a gap in the position's favour measures negative.

A symbol's measure is the mean over its last `window` fills younger than `max_age_ms`: old fills leave it, so a
symbol disallowed for its slippage (and trading no more) comes back after a day, and its next fills decide.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from actors.execution.ids import Purpose
from exchange.port import OrderSide

SLIPPAGE_MAX_AGE_MS = 86_400_000
_BPS = Decimal(10_000)
TRIGGERED = frozenset({Purpose.STOP, Purpose.TAKE_PROFIT, Purpose.PARTIAL})  # measured against their trigger price


def slippage_bps(side: OrderSide, reference: Decimal, price: Decimal) -> float:
    """A fill at `price` against `reference` for a taker on `side`, in basis points of `reference`."""
    if reference <= 0:
        raise ValueError(f"a decision price must be positive, not {reference}")
    return float((price - reference) / reference * _BPS) * side.sign


@dataclass(frozen=True, slots=True, kw_only=True)
class SlippageSample:
    """One order's fill against its decision price."""

    symbol: str
    at: int  # when the exchange reported the order filled (UTC ms)
    bps: float
    key: str  # the order's client id: an order told twice (a stream and a lookup) is measured once


def measured_fill(
    *,
    key: str,
    symbol: str,
    purpose: str,
    side: OrderSide,
    average_price: Decimal | None,
    trigger_price: Decimal | None,
    decision_price: Decimal | None,
    at: int,
) -> SlippageSample | None:
    """The sample of one filled order of ours, or None when it has no price to measure against (a market exit, an
    entry from before decision prices were kept, an adopted position) or no fill price."""
    if purpose in TRIGGERED:
        reference = trigger_price
    elif purpose == Purpose.ENTRY:
        reference = decision_price
    else:
        return None
    if reference is None or reference <= 0 or average_price is None or average_price <= 0:
        return None
    return SlippageSample(symbol=symbol, at=at, bps=slippage_bps(side, reference, average_price), key=key)


class SlippageRecords:
    """Each symbol's recent slippage samples, oldest first."""

    def __init__(self, window: int, max_age_ms: int = SLIPPAGE_MAX_AGE_MS) -> None:
        if window < 1:
            raise ValueError("a slippage window holds at least one fill")
        self.window, self.max_age_ms = window, max_age_ms
        self._samples: dict[str, deque[SlippageSample]] = {}
        self._measured: dict[str, tuple[int, float | None, int]] = {}  # symbol -> (valid until, mean, fills)
        self._all: tuple[tuple[str, ...], int, tuple[tuple[float | None, int], ...]] | None = None  # measure_all's

    def add(self, sample: SlippageSample) -> bool:
        """Count the sample; False (and nothing counted) when its order is among the symbol's recent ones already."""
        recent = self._samples.setdefault(sample.symbol, deque(maxlen=self.window))
        if any(known.key == sample.key for known in recent):
            return False
        recent.append(sample)
        self._measured.pop(sample.symbol, None)
        self._all = None
        return True

    def measure_all(self, symbols: tuple[str, ...], now: int) -> tuple[tuple[float | None, int], ...]:
        """`measure` of each of `symbols`, as the same tuple as the last call's while none of them can have changed
        (no fill added, none left the day): a caller asking every step tells "unchanged" by identity."""
        cached = self._all
        if cached is not None and cached[0] == symbols and now < cached[1]:
            return cached[2]
        figures = tuple(self.measure(symbol, now) for symbol in symbols)
        valid_until = min((self._measured[symbol][0] for symbol in symbols), default=2**62)
        self._all = (symbols, valid_until, figures)
        return figures

    def measure(self, symbol: str, now: int) -> tuple[float | None, int]:
        """(mean slippage in bps, fills it is over) of the symbol's fills within the window; (None, 0) for none.
        Worked out again only when a fill was added or the oldest one counted leaves the day: it is asked every
        step."""
        cached = self._measured.get(symbol)
        if cached is not None and now < cached[0]:
            return cached[1], cached[2]
        recent = [s for s in self._samples.get(symbol, ()) if s.at > now - self.max_age_ms]
        mean = sum(s.bps for s in recent) / len(recent) if recent else None
        valid_until = min(s.at for s in recent) + self.max_age_ms if recent else 2**62
        self._measured[symbol] = (valid_until, mean, len(recent))
        return mean, len(recent)
