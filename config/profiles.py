"""Risk profiles and exit modes: every number of DESIGN.md's policy tables."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RiskProfileName(StrEnum):
    SAFE = "SAFE"
    MODERATE = "MODERATE"
    AGGRESSIVE = "AGGRESSIVE"


class ExitMode(StrEnum):
    TREND_FOLLOW = "TREND_FOLLOW"
    FAST_TP = "FAST_TP"
    DEFENSIVE_TRAIL = "DEFENSIVE_TRAIL"


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
    """Distances are fractions of the entry price; partial TP closes a fraction at an R multiple."""

    take_profit_pct: float = Fraction
    stop_loss_pct: float = Fraction
    trailing_pct: float = Fraction
    partial_tp_fraction: float = Field(gt=0, le=1)
    partial_tp_r: float = Field(gt=0, le=20)


DEFAULT_EXIT_MODES: dict[ExitMode, ExitModeParams] = {
    ExitMode.TREND_FOLLOW: ExitModeParams(
        take_profit_pct=0.08,
        stop_loss_pct=0.04,
        trailing_pct=0.03,
        partial_tp_fraction=0.5,
        partial_tp_r=1.5,
    ),
    ExitMode.FAST_TP: ExitModeParams(
        take_profit_pct=0.05,
        stop_loss_pct=0.03,
        trailing_pct=0.02,
        partial_tp_fraction=0.6,
        partial_tp_r=1.0,
    ),
    ExitMode.DEFENSIVE_TRAIL: ExitModeParams(
        take_profit_pct=0.04,
        stop_loss_pct=0.02,
        trailing_pct=0.015,
        partial_tp_fraction=0.7,
        partial_tp_r=0.8,
    ),
}
