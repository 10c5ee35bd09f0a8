"""Risk profiles and exit modes: every number of DESIGN.md's policy tables."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RiskProfileName(StrEnum):
    SAFE = "SAFE"
    MODERATE = "MODERATE"
    AGGRESSIVE = "AGGRESSIVE"


class ExitMode(StrEnum):
    # In order of defensiveness: a change down this list tightens open positions, one up it leaves them be.
    TREND_FOLLOW = "TREND_FOLLOW"
    FAST_TP = "FAST_TP"
    DEFENSIVE_TRAIL = "DEFENSIVE_TRAIL"

    @property
    def defensiveness(self) -> int:
        return list(ExitMode).index(self)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Fraction = Field(gt=0, lt=1)


class RiskProfile(_Strict):
    """One risk profile. Percentages are fractions: 0.01 is 1%."""

    base_risk_pct: float = Field(gt=0, le=0.1, description="risk per trade in normal conditions")
    min_risk_pct: float = Field(gt=0, le=0.1, description="floor of the final per-trade risk")
    max_risk_pct: float = Field(gt=0, le=0.1, description="ceiling of the final per-trade risk")
    high_volatility_risk_pct: float = Field(gt=0, le=0.1, description="policy max risk under HIGH volatility")
    max_open_positions: int = Field(ge=1, le=200)
    max_correlated_positions: int = Field(ge=1, le=200)
    max_symbol_exposure_pct: float = Fraction
    max_total_exposure_pct: float = Field(gt=0, le=10)
    daily_drawdown_limit_pct: float = Field(
        gt=0, lt=1, description="loss of the day's starting equity that locks the gate"
    )
    max_drawdown_pct: float = Field(
        gt=0, lt=1, description="loss from the equity peak of risk.drawdown_window_days that halts the gate"
    )
    losing_streak_threshold: int = Field(ge=1, le=100)
    losing_streak_factor: float = Field(default=0.7, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> RiskProfile:
        if not self.min_risk_pct <= self.base_risk_pct <= self.max_risk_pct:
            raise ValueError("needs min_risk_pct <= base_risk_pct <= max_risk_pct")
        if self.max_symbol_exposure_pct > self.max_total_exposure_pct:
            raise ValueError("max_symbol_exposure_pct cannot exceed max_total_exposure_pct")
        return self


DEFAULT_PROFILES: dict[RiskProfileName, RiskProfile] = {
    RiskProfileName.SAFE: RiskProfile(
        base_risk_pct=0.01,
        min_risk_pct=0.0001,
        max_risk_pct=0.012,
        high_volatility_risk_pct=0.005,
        max_open_positions=5,
        max_correlated_positions=2,
        max_symbol_exposure_pct=0.05,
        max_total_exposure_pct=0.10,
        daily_drawdown_limit_pct=0.025,
        max_drawdown_pct=0.10,
        losing_streak_threshold=3,
    ),
    RiskProfileName.MODERATE: RiskProfile(
        base_risk_pct=0.015,
        min_risk_pct=0.0001,
        max_risk_pct=0.018,
        high_volatility_risk_pct=0.008,
        max_open_positions=8,
        max_correlated_positions=3,
        max_symbol_exposure_pct=0.07,
        max_total_exposure_pct=0.15,
        daily_drawdown_limit_pct=0.04,
        max_drawdown_pct=0.15,
        losing_streak_threshold=4,
    ),
    RiskProfileName.AGGRESSIVE: RiskProfile(
        base_risk_pct=0.02,
        min_risk_pct=0.0001,
        max_risk_pct=0.024,
        high_volatility_risk_pct=0.010,
        max_open_positions=10,
        max_correlated_positions=4,
        max_symbol_exposure_pct=0.10,
        max_total_exposure_pct=0.20,
        daily_drawdown_limit_pct=0.06,
        max_drawdown_pct=0.20,
        losing_streak_threshold=5,
    ),
}


class ExitModeParams(_Strict):
    """One exit mode. The stop is the ATR stop (`atr_multiplier_sl` x ATR) capped at `stop_loss_pct` of the entry;
    every other distance is a multiple of that stop distance (R), so a mode keeps its shape on any timeframe.
    Where the stop reaches its cap, the target and the trailing distance are the seed's percents."""

    atr_multiplier_sl: float = Field(gt=0, le=50, description="stop distance in ATRs, before the cap")
    stop_loss_pct: float = Field(gt=0, lt=1, description="cap of the stop distance, a fraction of the entry")
    take_profit_r: float = Field(gt=0, le=50, description="take-profit distance in R (reward to risk)")
    trailing_r: float = Field(gt=0, le=50, description="trailing distance behind the best price, in R")
    trailing_start_r: float = Field(
        gt=0, le=50, description="trailing starts this many R in favour (or when the partial take-profit fills)"
    )
    partial_tp_fraction: float = Field(gt=0, le=1, description="share of the position the partial take-profit closes")
    partial_tp_r: float = Field(gt=0, le=50, description="the partial take-profit's distance in R")

    @property
    def take_profit_pct(self) -> float:
        """The target as a fraction of the entry when the stop reaches its cap."""
        return round(self.take_profit_r * self.stop_loss_pct, 12)

    @property
    def trailing_pct(self) -> float:
        """The trailing distance as a fraction of the entry when the stop reaches its cap."""
        return round(self.trailing_r * self.stop_loss_pct, 12)


# Seed 002's three modes. At the cap they are its percents (take-profit / stop-loss / trailing): TREND_FOLLOW
# 8/4/3, FAST_TP 5/3/2, DEFENSIVE_TRAIL 4/2/1.5; below it, each mode's own ATR multiple keeps them apart, so for
# the same entry and ATR a more defensive mode's stop, target, trailing distance and trailing start are never
# further than a less defensive one's (tests/exits/test_exit_modes.py checks it for any entry and ATR).
DEFAULT_EXIT_MODES: dict[ExitMode, ExitModeParams] = {
    ExitMode.TREND_FOLLOW: ExitModeParams(
        atr_multiplier_sl=2.0,  # a wide stop: room to ride the trend
        stop_loss_pct=0.04,
        take_profit_r=2.0,
        trailing_r=0.75,
        trailing_start_r=1.5,  # a late trail
        partial_tp_fraction=0.5,
        partial_tp_r=1.5,
    ),
    ExitMode.FAST_TP: ExitModeParams(
        atr_multiplier_sl=1.5,
        stop_loss_pct=0.03,
        take_profit_r=5 / 3,  # the seed's 1:1.67
        trailing_r=2 / 3,
        trailing_start_r=1.0,
        partial_tp_fraction=0.6,
        partial_tp_r=1.0,
    ),
    ExitMode.DEFENSIVE_TRAIL: ExitModeParams(
        atr_multiplier_sl=1.0,  # the tightest stop
        stop_loss_pct=0.02,
        take_profit_r=2.0,
        trailing_r=0.75,
        trailing_start_r=0.5,  # trails earliest: locks gains fast
        partial_tp_fraction=0.7,
        partial_tp_r=0.8,
    ),
}
