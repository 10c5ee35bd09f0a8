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


Verdict = tuple[DecisionReason, str]

# The policy in full, as LIVE would enforce it with every part switched on: what OBSERVE records as its would-be
# decision, whatever the use_for_* flags say (they choose what LIVE enforces; OBSERVE enforces none of it).
POLICY_IN_FULL = IntegrationFlags()


def standing_block(signal: Signal, gate_state: str, gate_reason: str, settings: Settings) -> Verdict | None:
    """What stops a signal in every mode, the policy aside: an operator's halt, a symbol outside the universe."""
    if gate_state == GateState.HALTED:
        return DecisionReason.BLOCKED_BY_GATE, f"gate halted: {gate_reason}"
    if signal.symbol not in settings.symbols:
        return DecisionReason.BLOCKED_BY_POLICY_FILTER, f"{signal.symbol} is not in the configured symbol universe"
    return None


def policy_block(
    signal: Signal, policy: TradingPolicy, flags: IntegrationFlags, gate_state: str, gate_reason: str
) -> Verdict | None:
    """What the parts of the policy that `flags` switch on stop: the gate, the symbol filter, the confidence."""
    if flags.use_for_trading_gate:
        if gate_state != GateState.OPEN:
            return DecisionReason.BLOCKED_BY_GATE, f"gate {gate_state}: {gate_reason}"
        if not policy.allow_new_trades:
            return DecisionReason.BLOCKED_BY_GATE, f"policy allows no new trades: {policy.note}"
        cooling = dict(policy.cooling_down).get(signal.symbol)
        if cooling:  # the gate held for one symbol after its stop-outs
            return DecisionReason.BLOCKED_BY_GATE, cooling
    if flags.use_for_signal_filter and signal.symbol in policy.disallowed_symbols:
        return DecisionReason.BLOCKED_BY_POLICY_FILTER, f"{signal.symbol} is disallowed: {policy.note}"
    threshold = policy.min_confidence if flags.use_for_confidence_threshold else STATIC_MIN_CONFIDENCE
    if signal.confidence < threshold:
        return DecisionReason.BLOCKED_BY_CONFIDENCE, f"confidence {signal.confidence:.2f} < {threshold:.2f}"
    return None


def screen_signal(
    signal: Signal,
    policy: TradingPolicy,
    flags: IntegrationFlags,
    gate_state: str,
    gate_reason: str,
    settings: Settings,
) -> Verdict | None:
    """Why this signal stops here, as enforced under `flags`, or None to pass it on to risk.

    OBSERVE enforces nothing of the policy: only the standing blocks hold (its would-be verdict is
    `observed_block`'s, recorded by the caller)."""
    standing = standing_block(signal, gate_state, gate_reason, settings)
    if standing is not None:
        return standing
    if not flags.enable_orchestrator:
        return (
            None
            if signal.confidence >= STATIC_MIN_CONFIDENCE
            else (
                DecisionReason.BLOCKED_BY_CONFIDENCE,
                f"confidence {signal.confidence:.2f} < {STATIC_MIN_CONFIDENCE:.2f} (static)",
            )
        )
    if flags.observing:
        return None
    return policy_block(signal, policy, flags, gate_state, gate_reason)


def observed_block(signal: Signal, policy: TradingPolicy, gate_state: str, gate_reason: str) -> Verdict | None:
    """OBSERVE: what the whole policy would stop this signal for at the screen, or None if it would pass."""
    return policy_block(signal, policy, POLICY_IN_FULL, gate_state, gate_reason)
