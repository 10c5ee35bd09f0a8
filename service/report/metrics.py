"""Performance metrics of one run, from its closed trades and its equity curve (pure, numpy).

Definitions (each written once, here):
- a trade's net PnL is its realized PnL minus its fees (the exchange reports realized
  PnL gross of commission, as Binance does); a win has net PnL > 0, a loss < 0, and
  a trade at exactly 0 is neither (it still counts in `trades`);
- win rate = wins / trades (0 without trades);
- profit factor = sum of winning net PnL / |sum of losing net PnL|; None (JSON null)
  when there is no losing trade, because the ratio is then unbounded;
- average R = mean R multiple over the trades that know their initial risk; None if none do;
- max drawdown: the largest fall of equity from its running peak, in money and, taken
  separately (the two can come from different peaks), as a percent of that peak;
- Sharpe: the equity series resampled to one close per UTC calendar day (the last
  value of each day, carried forward over days without a point), daily simple returns
  measured from the series' first value, risk-free rate 0,
  `mean / sample std (ddof=1) x sqrt(365)` (crypto trades every day of the year);
  0 with fewer than 2 days or zero variance;
- exposure = time with at least one position open (the union of the trades' open
  intervals, clipped to the equity curve's span) / that span, as a percent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DAY_MS = 86_400_000
TRADING_DAYS_PER_YEAR = 365


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeOutcome:
    """What the metrics need of one closed trade: money as floats, times as UTC ms."""

    realized_pnl: float
    fees: float
    opened_at: int | None
    closed_at: int | None
    r_multiple: float | None = None

    @property
    def net_pnl(self) -> float:
        return self.realized_pnl - self.fees


@dataclass(frozen=True, slots=True)
class EquityCurve:
    """Equity over time, oldest first; `at` in UTC ms."""

    at: tuple[int, ...] = ()
    equity: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if len(self.at) != len(self.equity):
            raise ValueError(f"equity curve: {len(self.at)} times for {len(self.equity)} values")


@dataclass(frozen=True, slots=True, kw_only=True)
class Drawdown:
    absolute: float
    percent: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics:
    trades: int
    wins: int
    losses: int
    breakeven: int
    win_rate: float
    gross_pnl: float
    fees: float
    net_pnl: float
    average_win: float | None
    average_loss: float | None
    average_r: float | None
    trades_with_r: int
    profit_factor: float | None
    start_equity: float | None
    end_equity: float | None
    return_pct: float | None
    max_drawdown: float
    max_drawdown_pct: float
    sharpe: float
    sharpe_days: int
    exposure_ms: int
    exposure_pct: float


def max_drawdown(equity: Sequence[float]) -> Drawdown:
    """Largest peak-to-trough fall; 0 for an empty or never-falling series."""
    values = np.asarray(equity, dtype=np.float64)
    if values.size == 0:
        return Drawdown(absolute=0.0, percent=0.0)
    peaks = np.maximum.accumulate(values)
    falls = peaks - values
    # A peak at or below zero has no meaningful percentage; those points count in money only.
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(peaks > 0, falls / peaks, 0.0)
    return Drawdown(absolute=float(falls.max()), percent=float(relative.max() * 100.0))


def daily_closes(curve: EquityCurve) -> np.ndarray:
    """One equity value per UTC calendar day from the first to the last point, carried forward."""
    if not curve.at:
        return np.empty(0, dtype=np.float64)
    at = np.asarray(curve.at, dtype=np.int64)
    values = np.asarray(curve.equity, dtype=np.float64)
    order = np.argsort(at, kind="stable")
    at, values = at[order], values[order]
    days = at // DAY_MS
    first_day, last_day = int(days[0]), int(days[-1])
    # For every calendar day, the index of the last point at or before that day's end.
    day_ends = np.arange(first_day + 1, last_day + 2, dtype=np.int64) * DAY_MS
    last_index = np.searchsorted(at, day_ends, side="left") - 1
    return values[last_index]


def sharpe_ratio(curve: EquityCurve) -> tuple[float, int]:
    """(annualised Sharpe, number of days it was measured over); see the module docstring."""
    closes = daily_closes(curve)
    days = int(closes.size)
    if days < 2:
        return 0.0, days
    # The first point opens day one, so a curve spanning N days gives N daily returns.
    previous = np.concatenate(([curve.equity[int(np.argmin(curve.at))]], closes[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = closes / previous - 1.0
    if not np.all(np.isfinite(returns)):
        return 0.0, days
    std = float(np.std(returns, ddof=1))
    if std <= 1e-15 or not math.isfinite(std):
        return 0.0, days
    return float(np.mean(returns) / std * math.sqrt(TRADING_DAYS_PER_YEAR)), days


def exposure_ms(intervals: Sequence[tuple[int, int]], start: int, end: int) -> int:
    """Milliseconds of [start, end] covered by at least one interval (overlaps count once)."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in intervals if min(b, end) > max(a, start))
    covered, cursor = 0, start
    for a, b in clipped:
        a = max(a, cursor)
        if b > a:
            covered += b - a
            cursor = b
    return covered


def _span(trades: Sequence[TradeOutcome], curve: EquityCurve) -> tuple[int, int] | None:
    if curve.at:
        return min(curve.at), max(curve.at)
    times = [t for trade in trades for t in (trade.opened_at, trade.closed_at) if t is not None]
    return (min(times), max(times)) if times else None


def compute_metrics(
    trades: Sequence[TradeOutcome],
    curve: EquityCurve,
    *,
    open_intervals: Sequence[tuple[int, int]] = (),
) -> Metrics:
    """Every metric of the report. `open_intervals` adds the time of positions still open
    at the end (they are not trades yet, but they were exposure)."""
    net = np.asarray([trade.net_pnl for trade in trades], dtype=np.float64)
    gross = float(np.sum([trade.realized_pnl for trade in trades], dtype=np.float64)) if trades else 0.0
    fees = float(np.sum([trade.fees for trade in trades], dtype=np.float64)) if trades else 0.0
    won, lost = net[net > 0], net[net < 0]
    r_values = [
        trade.r_multiple for trade in trades if trade.r_multiple is not None and math.isfinite(trade.r_multiple)
    ]
    drawdown = max_drawdown(curve.equity)
    sharpe, sharpe_days = sharpe_ratio(curve)
    span = _span(trades, curve)
    intervals = [
        (trade.opened_at, trade.closed_at)
        for trade in trades
        if trade.opened_at is not None and trade.closed_at is not None
    ] + list(open_intervals)
    exposed = exposure_ms(intervals, *span) if span else 0
    span_ms = (span[1] - span[0]) if span else 0
    start = curve.equity[int(np.argmin(curve.at))] if curve.at else None
    end = curve.equity[int(np.argmax(curve.at))] if curve.at else None
    return Metrics(
        trades=len(trades),
        wins=int(won.size),
        losses=int(lost.size),
        breakeven=int(net.size - won.size - lost.size),
        win_rate=float(won.size / net.size) if net.size else 0.0,
        gross_pnl=gross,
        fees=fees,
        net_pnl=gross - fees,
        average_win=float(won.mean()) if won.size else None,
        average_loss=float(lost.mean()) if lost.size else None,
        average_r=float(np.mean(r_values)) if r_values else None,
        trades_with_r=len(r_values),
        profit_factor=float(won.sum() / -lost.sum()) if lost.size else None,
        start_equity=start,
        end_equity=end,
        return_pct=(end / start - 1.0) * 100.0 if start and end is not None else None,
        max_drawdown=drawdown.absolute,
        max_drawdown_pct=drawdown.percent,
        sharpe=sharpe,
        sharpe_days=sharpe_days,
        exposure_ms=exposed,
        exposure_pct=exposed / span_ms * 100.0 if span_ms > 0 else 0.0,
    )
