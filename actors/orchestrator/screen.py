"""The orchestrator's screen of one signal: gate, symbol filter, confidence. Pure."""

from __future__ import annotations

from actors.messages import STATIC_EXIT_MODE, DecisionReason, Signal, TradingPolicy
from config import IntegrationFlags, Settings
from state_machines import GateState

# Without the orchestrator (or with its flag off) a signal still needs this much confidence:
# the table's threshold in calm markets, i.e. what the service did before the orchestrator.
STATIC_MIN_CONFIDENCE = 0.45


def static_policy(settings: Settings) -> TradingPolicy:
    """The pre-orchestrator baseline: the configured profile as it stands, every symbol, one exit mode."""
    profile = settings.profile
    return TradingPolicy(
        allow_new_trades=True,
        min_confidence=STATIC_MIN_CONFIDENCE,
        max_risk_pct=profile.base_risk_pct,
        exit_mode=STATIC_EXIT_MODE,
        risk_profile=str(settings.risk.profile),
        max_open_positions=profile.max_open_positions,
        max_correlated_positions=profile.max_correlated_positions,
        max_symbol_exposure_pct=profile.max_symbol_exposure_pct,
        max_total_exposure_pct=profile.max_total_exposure_pct,
        allowed_symbols=settings.symbols,
        note="orchestrator disabled: static baseline",
    )


def screen_signal(
    signal: Signal,
    policy: TradingPolicy,
    flags: IntegrationFlags,
    gate_state: str,
    gate_reason: str,
    settings: Settings,
) -> tuple[DecisionReason, str] | None:
    """Why this signal stops here, or None to pass it on. Decided as if enforcing; the caller
    turns it into OBSERVED in OBSERVE mode (except the operator's halt, which always holds)."""
    if gate_state == GateState.HALTED:
        return DecisionReason.BLOCKED_BY_GATE, f"gate halted: {gate_reason}"
    if signal.symbol not in settings.symbols:
        return DecisionReason.BLOCKED_BY_POLICY_FILTER, f"{signal.symbol} is not in the configured symbol universe"
    if not flags.enable_orchestrator:
        return (
            None
            if signal.confidence >= STATIC_MIN_CONFIDENCE
            else (
                DecisionReason.BLOCKED_BY_CONFIDENCE,
                f"confidence {signal.confidence:.2f} < {STATIC_MIN_CONFIDENCE:.2f} (static)",
            )
        )
    if flags.use_for_trading_gate:
        if gate_state != GateState.OPEN:
            return DecisionReason.BLOCKED_BY_GATE, f"gate {gate_state}: {gate_reason}"
        if not policy.allow_new_trades:
            return DecisionReason.BLOCKED_BY_GATE, f"policy allows no new trades: {policy.note}"
    if flags.use_for_signal_filter and signal.symbol in policy.disallowed_symbols:
        return DecisionReason.BLOCKED_BY_POLICY_FILTER, f"{signal.symbol} is disallowed: {policy.note}"
    threshold = policy.min_confidence if flags.use_for_confidence_threshold else STATIC_MIN_CONFIDENCE
    if signal.confidence < threshold:
        return DecisionReason.BLOCKED_BY_CONFIDENCE, f"confidence {signal.confidence:.2f} < {threshold:.2f}"
    return None
