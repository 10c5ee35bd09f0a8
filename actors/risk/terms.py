"""Which of the policy's numbers the risk actor applies, flag by flag. Pure.

With a flag off (or the orchestrator in OBSERVE mode, or disabled) the matching
part of the policy is ignored and the configured profile's own terms apply.
`policy_terms` are the policy's own, every part on: what OBSERVE records as would-be.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from actors.messages import TradingPolicy, exit_mode_in_force
from actors.risk.limits import PositionLimits
from config import ExitMode, IntegrationFlags, OrchestratorMode, Settings


@dataclass(frozen=True, slots=True)
class RiskTerms:
    limits: PositionLimits
    max_risk_pct: float
    risk_profile: str
    exit_mode: ExitMode
    origin: str = field(default="", compare=False)  # in words, which terms the policy set and which the profile

    def describe(self) -> str:
        limits = self.limits
        return (
            f"max risk {self.max_risk_pct:.2%}, profile {self.risk_profile}, exit {self.exit_mode}, limits "
            f"{limits.max_open_positions} positions / {limits.max_correlated_positions} correlated / "
            f"{limits.max_symbol_exposure_pct:.1%} symbol / {limits.max_total_exposure_pct:.1%} total exposure"
            + (f" ({self.origin})" if self.origin else "")
        )


def risk_terms(policy: TradingPolicy, flags: IntegrationFlags, settings: Settings) -> RiskTerms:
    enforcing = flags.enforcing
    scaled = enforcing and flags.use_for_risk_sizing
    from_policy = {
        "risk": scaled,
        "limits": enforcing and flags.use_for_position_limits,
        "exit mode": enforcing and flags.use_for_exit_mode,
    }
    return RiskTerms(
        limits=PositionLimits.from_policy(policy)
        if enforcing and flags.use_for_position_limits
        else PositionLimits.from_profile(settings.profile),
        max_risk_pct=policy.max_risk_pct if scaled else settings.profile.base_risk_pct,
        risk_profile=policy.risk_profile if scaled else str(settings.risk.profile),
        # The one rule the exits actor and execution follow too: new and open positions share the mode in force.
        exit_mode=exit_mode_in_force(policy.exit_mode, enforced=enforcing, use_for_exit_mode=flags.use_for_exit_mode),
        origin=_origin(from_policy),
    )


def policy_terms(policy: TradingPolicy, settings: Settings) -> RiskTerms:
    """The terms LIVE would apply with every use_for_* flag on, whatever the flags say now."""
    terms = risk_terms(policy, IntegrationFlags(mode=OrchestratorMode.LIVE), settings)
    return replace(terms, origin="the whole policy's, as OBSERVE records what it would do")


def _origin(from_policy: dict[str, bool]) -> str:
    policy = [name for name, yes in from_policy.items() if yes]
    profile = [name for name, yes in from_policy.items() if not yes]
    said = ([f"{', '.join(policy)} from the policy"] if policy else []) + (
        [f"{', '.join(profile)} from the profile"] if profile else []
    )
    return "; ".join(said)
