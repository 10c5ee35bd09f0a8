"""Orchestrator integration flags and the five presets of the gradual rollout."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class OrchestratorMode(StrEnum):
    OBSERVE = "OBSERVE"  # compute and record the policy and its would-be decisions; enforce nothing but a halt
    LIVE = "LIVE"


class RolloutPreset(StrEnum):
    OBSERVE = "observe"
    FILTER = "filter"  # step 1: symbol filter and confidence threshold
    RISK_SIZING = "risk_sizing"  # step 2: + policy-scaled position size
    LIMITS_AND_GATE = "limits_and_gate"  # steps 3-4: + position limits and the trading gate
    FULL_LIVE = "full_live"  # step 5: + regime-aware exit modes


class IntegrationFlags(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enable_orchestrator: bool = True
    mode: OrchestratorMode = OrchestratorMode.LIVE
    use_for_signal_filter: bool = True
    use_for_confidence_threshold: bool = True
    use_for_risk_sizing: bool = True
    use_for_position_limits: bool = True
    use_for_trading_gate: bool = True
    use_for_exit_mode: bool = True
    log_all_signals: bool = True

    @property
    def enforcing(self) -> bool:
        return self.enable_orchestrator and self.mode is OrchestratorMode.LIVE

    @property
    def observing(self) -> bool:
        """OBSERVE with the orchestrator on: the policy is computed and its verdicts recorded, none enforced."""
        return self.enable_orchestrator and self.mode is OrchestratorMode.OBSERVE


_STEPS = (
    ("use_for_signal_filter", "use_for_confidence_threshold"),
    ("use_for_risk_sizing",),
    ("use_for_position_limits", "use_for_trading_gate"),
    ("use_for_exit_mode",),
)


def preset_flags(preset: RolloutPreset) -> IntegrationFlags:
    """The flags of one rollout step; each step keeps what the previous ones turned on."""
    if preset is RolloutPreset.OBSERVE:
        off = {name: False for step in _STEPS for name in step}
        return IntegrationFlags(mode=OrchestratorMode.OBSERVE, **off)
    reached = list(RolloutPreset).index(preset)
    values = {name: index < reached for index, step in enumerate(_STEPS) for name in step}
    return IntegrationFlags(mode=OrchestratorMode.LIVE, **values)
