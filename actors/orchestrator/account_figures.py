"""The figures of the policy's risk state read from the account, worked out again only when they can change. Pure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.messages import Portfolio
from actors.orchestrator.policy import RiskState
from actors.protections import EquityPeak, floor_breach


class AccountFigures:
    """`RiskState`'s fields from the portfolio and the equity peak, in its order (but the strategy hold).

    They are a function of the portfolio and the window's peak alone: kept while both are the same objects as at the
    last step (execution hands on the same portfolio while nothing in it changed, and the peak is the same entry
    while the window's highest equity is), so a flat account's steps do no Decimal division."""

    def __init__(self, peak: EquityPeak, equity_floor: Decimal) -> None:
        self.peak, self.equity_floor = peak, equity_floor
        self._last: tuple[Portfolio, Decimal | None, tuple[Any, ...]] | None = None
        self._state: tuple[tuple[Any, ...], RiskState] | None = None  # the last risk state made, with its figures

    def of(self, portfolio: Portfolio, now: int) -> tuple[Any, ...]:
        peak = self.peak.peak(now)
        if self._last is not None and self._last[0] is portfolio and self._last[1] is peak:
            return self._last[2]
        equity, positions = portfolio.equity, portfolio.positions
        figures = (
            portfolio.daily_drawdown_pct,
            len(positions),
            float(sum(p.risk_at_stop for p in positions) / equity) if positions and equity > 0 else 0.0,
            portfolio.losing_streak,
            portfolio.exchange_blocked,
            portfolio.execution_hold,
            self.peak.drawdown(now, equity),
            floor_breach(equity, self.equity_floor),
        )
        self._last = portfolio, peak, figures
        return figures

    def risk_state(self, figures: tuple[Any, ...], strategy_hold: str) -> RiskState:
        """The `RiskState` of figures from `of` and of the strategies' hold: the last one again for the very same
        figures (and hold), so that a policy snapshot finds the part whose text it kept rather than encode it anew."""
        if self._state is not None and self._state[0] is figures and self._state[1].strategy_hold == strategy_hold:
            return self._state[1]
        daily, open_positions, exposure, streak, blocked, execution_hold, peak, floor = figures
        state = RiskState(
            daily_drawdown_pct=daily,
            open_positions=open_positions,
            total_exposure_pct=exposure,
            losing_streak=streak,
            exchange_blocked=blocked,
            execution_hold=execution_hold,
            peak_drawdown_pct=peak,
            equity_floor_breach=floor,
            strategy_hold=strategy_hold,
        )
        self._state = figures, state
        return state
