"""The orchestrator's policy (DESIGN.md "Orchestrator policy") as pure functions.

Inputs in, a `TradingPolicy` out: no clock, no I/O, no actor, so every row of
the design table is tested directly. The actor owns the cycle, the fallback on
error and the gate machine; this module only says what the policy and the gate
*should* be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from actors.messages import Regime, SymbolCosts, TradingPolicy, VolatilityLevel
from actors.orchestrator import regime_limits
from actors.orchestrator.costs import cost_breaches
from actors.protections import Cooldown, max_drawdown_hit, max_drawdown_reason
from config.profiles import ExitMode, RiskProfile
from config.sections import RiskSettings

# Bounds of the policy's max_risk_pct (DESIGN.md: 0.005-0.02). The floor is also the
# value under stress. Kept here, not in config: the design states them as fixed rules.
RISK_FLOOR_PCT = 0.005

MIN_CONFIDENCE_BY_VOLATILITY: dict[VolatilityLevel, float] = {
    VolatilityLevel.LOW: 0.45,
    VolatilityLevel.NORMAL: 0.45,
    VolatilityLevel.HIGH: 0.60,
    VolatilityLevel.EXTREME: 0.70,
}
DRAWDOWN_MIN_CONFIDENCE = 0.60

# risk_profile strings beyond the configured profile names (SAFE / MODERATE / AGGRESSIVE).
REDUCED = "REDUCED"
NO_NEW_TRADES = "NO_NEW_TRADES"
FALLBACK = "FALLBACK"

FALLBACK_MIN_CONFIDENCE = 0.65
FALLBACK_MAX_RISK_PCT = 0.01

_TRENDING = frozenset({Regime.TRENDING_UP, Regime.TRENDING_DOWN})
_CALM = frozenset({VolatilityLevel.LOW, VolatilityLevel.NORMAL})


class GateTarget(StrEnum):
    """Where the policy wants the gate. Values match `state_machines.gate.GateState`."""

    OPEN = "open"
    PAUSED = "paused"  # clears by itself once the condition is gone
    LOCKED = "locked"  # daily drawdown limit: the actor keeps it until the next UTC day
    HALTED = "halted"  # drawdown from the equity peak beyond the profile's limit: only an operator reopens


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskState:
    """The account's risk now. Percentages are signed fractions of equity."""

    daily_drawdown_pct: float = 0.0  # -0.026 means down 2.6% on the day
    open_positions: int = 0
    total_exposure_pct: float = 0.0
    losing_streak: int = 0  # consecutive losing closes; a win resets it
    exchange_blocked: str = ""  # why the exchange refuses requests now (rate limit, IP ban), or ""
    execution_hold: str = ""  # why execution cannot keep positions safe now (a position closed unprotected), or ""
    peak_drawdown_pct: float = 0.0  # against the equity peak of the drawdown window: -0.12 is 12% under it
    equity_floor_breach: str = ""  # why equity is below the configured floor (actors/protections.py), or ""
    strategy_hold: str = ""  # the strategies disabled after repeated failures (actors/signals/runner.py), or ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolPerformance:
    """One symbol's recent closed trades."""

    symbol: str
    closed_trades: int
    win_rate: float
    avg_r: float
    pnl: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyInputs:
    """Everything one policy cycle looks at.

    `gate_hold_reason` is set by the actor when the gate is closed for a reason these
    inputs no longer show (a drawdown lock after equity recovered, an operator halt):
    the policy must not say "trade" while the gate says no.
    """

    regime: Regime
    volatility: VolatilityLevel
    risk_state: RiskState = RiskState()
    performance: tuple[SymbolPerformance, ...] = ()
    costs: tuple[SymbolCosts, ...] = ()  # spread and realised slippage of each symbol (DESIGN.md's cost metrics)
    symbols: tuple[str, ...] = ()
    gate_hold_reason: str = ""
    cooldowns: tuple[Cooldown, ...] = ()  # symbols cooling down after stop-outs (actors/protections.py)


def drawdown_limit_hit(state: RiskState, profile: RiskProfile) -> bool:
    # The table says "daily drawdown <= -2.5%": touching the limit counts.
    return state.daily_drawdown_pct <= -profile.daily_drawdown_limit_pct


def exchange_pause(blocked: str) -> tuple[GateTarget, str]:
    """The exchange refuses requests (a rate limit, an IP ban): a pause whatever else holds, with its reason."""
    return GateTarget.PAUSED, f"Exchange refuses requests: {blocked}"


def execution_pause(hold: str) -> tuple[GateTarget, str]:
    """Execution could not keep a position safe: a pause whatever else holds, with its reason."""
    return GateTarget.PAUSED, f"Execution paused trading: {hold}"


def strategy_pause(hold: str) -> tuple[GateTarget, str]:
    """A strategy was disabled after repeated failures: a pause whatever else holds, naming it and its error, until
    the service restarts without it (or with it fixed)."""
    return GateTarget.PAUSED, f"Signals paused trading: {hold}"


def gate_closures(inputs: PolicyInputs, profile: RiskProfile) -> tuple[tuple[GateTarget, str], ...]:
    """Every condition of the table's "gate closes" and "drawdown beyond the day" rows that holds now, halt first."""
    state = inputs.risk_state
    found: list[tuple[GateTarget, str]] = []
    if max_drawdown_hit(state.peak_drawdown_pct, profile.max_drawdown_pct):
        found.append((GateTarget.HALTED, max_drawdown_reason(state.peak_drawdown_pct, profile.max_drawdown_pct)))
    if drawdown_limit_hit(state, profile):
        found.append((GateTarget.LOCKED, f"Daily DD limit hit ({state.daily_drawdown_pct:.2%})"))
    if state.equity_floor_breach:
        found.append((GateTarget.PAUSED, state.equity_floor_breach))
    if state.exchange_blocked:
        found.append(exchange_pause(state.exchange_blocked))
    if state.execution_hold:
        found.append(execution_pause(state.execution_hold))
    if state.strategy_hold:
        found.append(strategy_pause(state.strategy_hold))
    if inputs.volatility is VolatilityLevel.EXTREME:
        found.append((GateTarget.PAUSED, "EXTREME volatility"))
    if state.open_positions >= profile.max_open_positions:
        found.append(
            (GateTarget.PAUSED, f"Max open positions reached ({state.open_positions}/{profile.max_open_positions})")
        )
    if state.total_exposure_pct >= profile.max_total_exposure_pct:
        found.append(
            (
                GateTarget.PAUSED,
                f"Total exposure cap reached ({state.total_exposure_pct:.2%} >= {profile.max_total_exposure_pct:.2%})",
            )
        )
    return tuple(found)


def desired_gate(inputs: PolicyInputs, profile: RiskProfile) -> tuple[GateTarget, str]:
    """The gate state the conditions call for, with every reason that applies.

    A halt outranks a drawdown lock, which outranks a pause (it must survive until the next
    UTC day even if the pause condition clears). `gate_hold_reason` is ignored: the gate
    already knows why it is held.
    """
    return gate_for(gate_closures(inputs, profile))


def gate_for(closures: tuple[tuple[GateTarget, str], ...]) -> tuple[GateTarget, str]:
    """`desired_gate` from the closures that hold (`gate_closures`, or `PolicyFacts.closures`)."""
    if not closures:
        return GateTarget.OPEN, "Conditions clear"
    targets = {target for target, _ in closures}
    target = next(t for t in (GateTarget.HALTED, GateTarget.LOCKED, GateTarget.PAUSED) if t in targets)
    return target, "; ".join(reason for _, reason in closures)


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyFacts:
    """What `compute_policy` reads of its inputs, and nothing more: the policy is worked out from these alone, so
    two inputs with equal facts make the same policy (note included).

    The running figures of the risk state (the day's drawdown, the exposure, the drawdown from the peak) move with
    every price while a position is open; they enter only through `closures`, the limits that hold with the text
    that names them, so the facts stay put until a limit is reached or its reported figure changes.

    The tuples of records (performance, costs, symbols, cool-downs) are compared but not hashed: they are handed on
    as the very same objects for long runs of steps (equal at a glance), while hashing them goes into every record's
    fields on each look-up; the few facts remembered (`PolicyMemo`) that differ only in them share a hash, harmlessly.
    """

    regime: Regime
    volatility: VolatilityLevel
    closures: tuple[tuple[GateTarget, str], ...]  # `gate_closures`: every gate-closing condition that holds
    daily_limit_hit: bool
    losing_streak: int
    gate_hold_reason: str
    performance: tuple[SymbolPerformance, ...] = field(hash=False)
    costs: tuple[SymbolCosts, ...] = field(hash=False)
    symbols: tuple[str, ...] = field(hash=False)
    cooldowns: tuple[Cooldown, ...] = field(hash=False)


def policy_facts(inputs: PolicyInputs, profile: RiskProfile) -> PolicyFacts:
    return PolicyFacts(
        regime=inputs.regime,
        volatility=inputs.volatility,
        closures=gate_closures(inputs, profile),
        daily_limit_hit=drawdown_limit_hit(inputs.risk_state, profile),
        losing_streak=inputs.risk_state.losing_streak,
        gate_hold_reason=inputs.gate_hold_reason,
        performance=inputs.performance,
        costs=inputs.costs,
        symbols=inputs.symbols,
        cooldowns=inputs.cooldowns,
    )


def compute_policy(
    inputs: PolicyInputs,
    profile: RiskProfile,
    profile_name: str,
    risk: RiskSettings,
) -> TradingPolicy:
    """The policy for this cycle, every row of DESIGN.md's table applied; `note` says why."""
    return policy_from_facts(policy_facts(inputs, profile), profile, profile_name, risk)


def policy_from_facts(
    facts: PolicyFacts,
    profile: RiskProfile,
    profile_name: str,
    risk: RiskSettings,
) -> TradingPolicy:
    """`compute_policy` for inputs with these facts."""
    dd_hit = facts.daily_limit_hit
    reasons = [reason for _, reason in facts.closures]
    if facts.gate_hold_reason:
        reasons.append(f"Gate held closed: {facts.gate_hold_reason}")
    allow = not reasons

    max_risk, risk_notes = _max_risk_pct(facts, profile, gate_closed=not allow)
    disallowed, symbol_notes = _disallowed_symbols(facts, risk)
    cooling_down = tuple((cooldown.symbol, cooldown.describe()) for cooldown in facts.cooldowns)
    notes = reasons + risk_notes + symbol_notes + [why for _, why in cooling_down]
    summary = "; ".join(notes) or f"Normal conditions ({facts.regime}, {facts.volatility} volatility)"
    limits_note = regime_limits.describe(profile.max_open_positions, facts.regime, facts.volatility)
    return TradingPolicy(
        allow_new_trades=allow,
        min_confidence=_min_confidence(facts.volatility, dd_hit),
        max_risk_pct=max_risk,
        exit_mode=_exit_mode(facts.regime, facts.volatility, dd_hit),
        risk_profile=_risk_profile(facts.volatility, str(profile_name), allow),
        max_open_positions=regime_limits.max_open_positions(profile.max_open_positions, facts.regime, facts.volatility),
        max_correlated_positions=profile.max_correlated_positions,
        max_symbol_exposure_pct=profile.max_symbol_exposure_pct,
        max_total_exposure_pct=profile.max_total_exposure_pct,
        allowed_symbols=tuple(symbol for symbol in facts.symbols if symbol not in disallowed),
        disallowed_symbols=disallowed,
        cooling_down=cooling_down,
        note=f"{summary}; {limits_note}",
    )


def fallback_policy(profile: RiskProfile, reason: str) -> TradingPolicy:
    """The table's fallback row: what trading runs on when the orchestrator raised.

    Empty symbol lists mean "every symbol"; the position limits stay the profile's,
    since the limits controller still needs numbers to enforce.
    """
    return TradingPolicy(
        allow_new_trades=True,
        min_confidence=FALLBACK_MIN_CONFIDENCE,
        max_risk_pct=FALLBACK_MAX_RISK_PCT,
        exit_mode=ExitMode.DEFENSIVE_TRAIL,
        risk_profile=FALLBACK,
        max_open_positions=profile.max_open_positions,
        max_correlated_positions=profile.max_correlated_positions,
        max_symbol_exposure_pct=profile.max_symbol_exposure_pct,
        max_total_exposure_pct=profile.max_total_exposure_pct,
        note=f"FALLBACK: orchestrator failed ({reason}); using safe defaults",
    )


def _min_confidence(volatility: VolatilityLevel, dd_hit: bool) -> float:
    by_volatility = MIN_CONFIDENCE_BY_VOLATILITY[volatility]
    # A drawdown raises the bar to 0.60 but never lowers EXTREME's 0.70.
    return max(by_volatility, DRAWDOWN_MIN_CONFIDENCE) if dd_hit else by_volatility


def _max_risk_pct(facts: PolicyFacts, profile: RiskProfile, gate_closed: bool) -> tuple[float, list[str]]:
    """Base risk, capped under stress, then cut for a losing streak.

    Stress values are caps (`min`), so a custom profile whose base is already below
    them is never raised. The streak cut stops at the floor: the design's range for
    max_risk_pct is 0.5%-2%, and below 0.5% the sizing's own factors take over.
    """
    notes: list[str] = []
    value = profile.base_risk_pct
    if gate_closed or facts.volatility is VolatilityLevel.EXTREME:
        value = min(value, RISK_FLOOR_PCT)
        notes.append(f"risk at floor {value:.2%}")
    elif facts.volatility is VolatilityLevel.HIGH:
        value = min(value, profile.high_volatility_risk_pct)
        notes.append(f"HIGH volatility: risk capped at {value:.2%}")
    streak = facts.losing_streak
    if streak >= profile.losing_streak_threshold:
        cut = max(value * profile.losing_streak_factor, min(value, RISK_FLOOR_PCT))
        notes.append(
            f"Losing streak of {streak} (>= {profile.losing_streak_threshold}): "
            f"risk x{profile.losing_streak_factor:.2f} -> {cut:.2%}"
        )
        value = cut
    return value, notes


def _exit_mode(regime: Regime, volatility: VolatilityLevel, dd_hit: bool) -> ExitMode:
    if volatility is VolatilityLevel.EXTREME:
        return ExitMode.DEFENSIVE_TRAIL
    if volatility is VolatilityLevel.HIGH:
        return ExitMode.FAST_TP
    if regime in _TRENDING and volatility in _CALM and not dd_hit:
        return ExitMode.TREND_FOLLOW
    # Uncertain regimes, and any trend once the day's loss limit is hit: take profit fast.
    return ExitMode.FAST_TP


def _risk_profile(volatility: VolatilityLevel, profile_name: str, allow: bool) -> str:
    if not allow:
        return NO_NEW_TRADES
    if volatility is VolatilityLevel.HIGH:
        return REDUCED
    return profile_name


def _disallowed_symbols(facts: PolicyFacts, risk: RiskSettings) -> tuple[tuple[str, ...], list[str]]:
    """Poor performers (all three conditions) and symbols whose spread or realised slippage is above its cap."""
    why: dict[str, list[str]] = {}
    for perf in facts.performance:
        if (
            perf.closed_trades >= risk.performance_min_trades
            and perf.win_rate < risk.performance_min_win_rate
            and perf.avg_r < risk.performance_min_avg_r
        ):
            why.setdefault(perf.symbol, []).append(
                f"win rate {perf.win_rate:.0%}, avg R {perf.avg_r:.2f} over {perf.closed_trades} trades"
            )
    for symbol, reason in cost_breaches(facts.costs, risk).items():
        why.setdefault(symbol, []).append(reason)
    if not why:
        return (), []
    # Universe order first so the list reads like the configuration, strangers after, sorted.
    order = {symbol: index for index, symbol in enumerate(facts.symbols)}
    disallowed = tuple(sorted(why, key=lambda symbol: (order.get(symbol, len(order)), symbol)))
    notes = [f"Disallowed {symbol}: {', '.join(why[symbol])}" for symbol in disallowed]
    return disallowed, notes
