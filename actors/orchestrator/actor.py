"""The orchestrator actor: the policy on every step, the trading gate, and the first screen of signals."""

from __future__ import annotations

import logging
from typing import Any

from actors.base import SupervisedActor
from actors.decisions import log_decisions
from actors.messages import (
    DecisionReason,
    HaltGate,
    OperatorCommand,
    PolicyUpdated,
    PositionClosed,
    Regime,
    Signal,
    Stage,
    Step,
    SymbolRecord,
    TradingPolicy,
    VolatilityLevel,
)
from actors.orchestrator.account_figures import AccountFigures
from actors.orchestrator.conditions import conditions_of
from actors.orchestrator.cost_record import CostRecord
from actors.orchestrator.gate_rules import gate_action
from actors.orchestrator.lookback import load_equity_peak, load_stop_outs
from actors.orchestrator.policy import (
    GateTarget,
    PolicyInputs,
    SymbolPerformance,
    exchange_pause,
    execution_pause,
    fallback_policy,
    strategy_pause,
)
from actors.orchestrator.policy_changes import decides_alike, describe_policy_change
from actors.orchestrator.policy_memo import PolicyMemo
from actors.orchestrator.screen import observed_block, screen_signal, static_policy
from actors.protections import EquityPeak, StopOutGuard, is_stop_out
from persistence import records
from persistence.operator import apply_gate_command
from persistence.store import Store
from state_machines import GateState, gate_machine

log = logging.getLogger("quantum_trader.orchestrator")
POLICY_BATCH = 1_000  # a replay's policy snapshots, written this many at a time (the service writes each at once)


class OrchestratorActor(SupervisedActor):
    name = "orchestrator"

    def start_up(self) -> None:
        self.store = Store(self.ctx.engine)
        self.machine = gate_machine()
        self.store.ensure_gate(at=self.ctx.clock.now_ms())
        gate, mismatches = self.store.load_gate(self.machine)
        assert gate is not None
        self.gate = gate
        settings = self.ctx.settings
        self.flags = settings.orchestrator.flags
        self.profile_name = settings.risk.profile
        self.profile = settings.profile
        self.policy: TradingPolicy | None = None
        self.static = static_policy(settings)  # the policy without the orchestrator: the settings', for good
        self.levels: dict[str, tuple[Regime, VolatilityLevel]] = {}  # each symbol's latest regime and volatility
        # Worked out again only when what they are made of changed (most steps change neither):
        self.conditions: tuple[Regime, VolatilityLevel] | None = None  # the market's, from `levels`
        self.records: tuple[SymbolRecord, ...] | None = None  # the portfolio's records `performance` is made of
        self.performance: tuple[SymbolPerformance, ...] = ()
        self.inputs: tuple[tuple[Any, ...], PolicyInputs] | None = None  # the last step's inputs, and their fields
        self.memo = PolicyMemo(self.profile, self.profile_name, settings.risk)  # the policy and gate inputs call for
        # The flags are fixed for the actor's life: whether the policy drives the gate is too.
        self.drives_gate = self.flags.enforcing and self.flags.use_for_trading_gate
        self.decisions: list[dict[str, Any]] = []
        self.policy_rows: list[dict[str, Any]] = []  # policy snapshots not written yet (a replay's, in batches)
        self.cost_record = CostRecord(self.store, settings.risk, durable=self.ctx.durable_steps)
        # The protections beyond the day: loaded from the database at the first step, once every actor has
        # started (execution's recovery may close positions by their stops while the service was down).
        self.peak = EquityPeak.from_settings(settings.risk)
        self.account = AccountFigures(self.peak, settings.risk.equity_floor_usd)
        self.stop_outs = StopOutGuard.from_settings(settings.risk)
        self.looked_back = False
        if mismatches:
            self._halt("gate state does not match its audit trail: " + "; ".join(m.describe() for m in mismatches))

    def shut_down(self) -> None:
        if hasattr(self, "store"):
            self._write_policies()
            self.store.close()

    def handle(self, message: Any) -> Any:
        match message:
            case Step(stage=Stage.SIGNALS):
                self._cycle(message)
            case HaltGate():
                self._halt(message.reason)
            case OperatorCommand():
                self._operator_command(message)
        return None

    # --- one cycle ------------------------------------------------------------------------

    def _cycle(self, step: Step) -> None:
        now = self.ctx.clock.now_ms()
        levels = self.levels
        for snapshot in step.snapshots:
            level = snapshot.regime, snapshot.volatility
            if levels.get(snapshot.symbol) != level:
                levels[snapshot.symbol] = level
                self.conditions = None
        self._track(step, now)
        policy, inputs = self._policy(step, now)
        self._drive_gate(step, inputs, now)
        self._publish(policy, inputs, now)
        portfolio = step.portfolio
        if portfolio is not None:
            self.cost_record.update(portfolio.costs, now)
        observed: list[str] = []
        candidates = [s for s in step.signals if self._screen(s, policy, now, observed)] if step.signals else ()
        if self.decisions:
            rows, self.decisions = self.decisions, []
            self.store.write(lambda c: records.insert_decisions(c, rows))
            log_decisions(rows, log_all=self.flags.log_all_signals)
        self.pass_on(step, policy=policy, candidates=tuple(candidates), observed=tuple(observed))

    def _track(self, step: Step, now: int) -> None:
        """The equity peak and the stop-outs, whatever the flags, so turning a flag on finds them current."""
        if not self.looked_back:
            load_equity_peak(self.store.connection, self.peak, now)
            load_stop_outs(self.store.connection, self.stop_outs, now)  # this step's closes are committed: in it
            self.looked_back = True
        else:
            for event in step.events:
                if isinstance(event, PositionClosed) and is_stop_out(event.reason, event.net_pnl):
                    self.stop_outs.record(event.symbol, now)
        if step.portfolio is not None:
            self.peak.add(now, step.portfolio.equity)

    def _policy(self, step: Step, now: int) -> tuple[TradingPolicy, PolicyInputs | None]:
        if not self.flags.enable_orchestrator:
            return self.static, None
        try:
            inputs = self._inputs(step, now)
            return self.memo.policy(inputs), inputs
        except Exception as error:  # the table's fallback row: trading goes on, defensively
            log.exception("policy failed; using the fallback policy")
            return fallback_policy(self.profile, f"orchestrator raised {type(error).__name__}: {error}"), None

    def _inputs(self, step: Step, now: int) -> PolicyInputs:
        portfolio = step.portfolio
        assert portfolio is not None
        if self.conditions is None:
            self.conditions = conditions_of(self.levels, self.ctx.settings.symbols[0])
        regime, volatility = self.conditions
        if portfolio.records is not self.records:
            self.records, self.performance = portfolio.records, _performance(portfolio.records)
        account = self.account.of(portfolio, now)
        hold = self.gate.reason if self.gate.state in (GateState.LOCKED, GateState.HALTED) else ""
        cooldowns = self.stop_outs.cooldowns(now)
        # The fields of the inputs (but the symbols, fixed): equal to the last step's, they make the same inputs.
        key = (regime, volatility, account, step.signals_hold, self.performance, portfolio.costs, hold, cooldowns)
        if self.inputs is not None and self.inputs[0] == key:
            return self.inputs[1]
        inputs = PolicyInputs(
            regime=regime,
            volatility=volatility,
            risk_state=self.account.risk_state(account, step.signals_hold),
            performance=self.performance,
            costs=portfolio.costs,
            symbols=self.ctx.settings.symbols,
            gate_hold_reason=hold,
            cooldowns=cooldowns,
        )
        self.inputs = key, inputs
        return inputs

    def _drive_gate(self, step: Step, inputs: PolicyInputs | None, now: int) -> None:
        target: GateTarget | None = None
        why = ""
        portfolio = step.portfolio
        if self.drives_gate and inputs is not None:
            target, why = self.memo.gate(inputs)
        elif portfolio is not None and portfolio.exchange_blocked:
            # Not a policy choice: whatever the flags (or a static policy), nothing can be sent, and the gate says why.
            target, why = exchange_pause(portfolio.exchange_blocked)
        elif portfolio is not None and portfolio.execution_hold:
            target, why = execution_pause(portfolio.execution_hold)
        elif step.signals_hold:
            target, why = strategy_pause(step.signals_hold)
        action = gate_action(self.gate.state, self.gate.reason, self.gate.locked_until, target, why, now)
        if action is None:
            return
        payload: dict[str, Any] = {} if action.locked_until is None else {"locked_until": action.locked_until}
        self.store.fire(self.machine, self.gate, action.trigger, reason=action.reason, at=now, **payload)
        log.warning("gate %s: %s", self.gate.state, action.reason)

    def _publish(self, policy: TradingPolicy, inputs: PolicyInputs | None, now: int) -> None:
        # A new policy is one that decides differently, whatever its note says (the same one, handed on unchanged
        # from the last step, decides alike without a look).
        if policy is self.policy or (self.policy is not None and decides_alike(self.policy, policy)):
            return
        previous, self.policy = self.policy, policy
        enforced = self.flags.enforcing
        self.policy_rows.append(
            dict(at=now, enforced=enforced, policy=policy, inputs={} if inputs is None else inputs, note=policy.note)
        )
        if self.ctx.durable_steps or len(self.policy_rows) >= POLICY_BATCH:
            self._write_policies()
        self.tell("exits", PolicyUpdated(at=now, policy=policy, enforced=enforced))
        if log.isEnabledFor(logging.INFO):  # the change in words is work for nothing where INFO is off (a replay)
            log.info(
                "policy %s%s: %s; note: %s",
                "in force" if previous is None else "changed",
                "" if enforced else " (observed, not enforced)",
                describe_policy_change(previous, policy),
                policy.note,
            )

    def _write_policies(self) -> None:
        """The policy snapshots not written yet, and the costs' row with them."""
        rows, self.policy_rows = self.policy_rows, []
        if rows:
            self.store.write(lambda c: records.insert_policy_snapshots(c, rows))
        self.cost_record.write()

    def _screen(self, signal: Signal, policy: TradingPolicy, now: int, observed: list[str]) -> bool:
        """Record a decision for a signal stopped here; True to pass it on to risk.

        In OBSERVE mode a signal the whole policy would stop here gets its would-be decision recorded as OBSERVED
        (its id in `observed`) and goes on all the same: only a halt or a symbol outside the universe stops it."""
        settings = self.ctx.settings
        verdict = screen_signal(signal, policy, self.flags, self.gate.state, self.gate.reason, settings)
        if verdict is None and self.flags.observing:
            would = observed_block(signal, policy, self.gate.state, self.gate.reason)
            if would is not None:
                self._record(signal, DecisionReason.OBSERVED, f"would be {would[0]}: {would[1]}", now)
                observed.append(signal.id)
        if verdict is None:
            return True
        self._record(signal, *verdict, now)
        return False

    def _record(self, signal: Signal, reason: DecisionReason, detail: str, now: int) -> None:
        self.decisions.append(
            dict(
                signal_id=signal.id,
                at=now,
                symbol=signal.symbol,
                side=str(signal.side),
                confidence=signal.confidence,
                source=signal.source,
                reason=str(reason),
                detail=detail,
                position_id=None,
            )
        )

    # --- operator ---------------------------------------------------------------------------

    def _operator_command(self, message: OperatorCommand) -> None:
        """Applied between steps (the runner polls the database for them), and answered in the database."""
        now = self.ctx.clock.now_ms()
        was = self.gate.state
        outcome = apply_gate_command(self.store, self.machine, self.gate, message.command, message.reason, now)
        if was == GateState.HALTED and self.gate.state == GateState.OPEN:
            self.peak.restart()  # the operator takes the account as it stands: drawdowns count from here
            log.warning("gate resumed by an operator (%s): the equity peak is measured from now", message.reason)
        self.store.write(lambda c: records.finish_operator_command(c, message.command_id, at=now, outcome=outcome))

    def _halt(self, reason: str) -> None:
        if self.gate.state != GateState.HALTED:
            self.store.fire(self.machine, self.gate, "halt", reason=reason, at=self.ctx.clock.now_ms())
            log.error("gate halted: %s", reason)


def _performance(records: tuple[SymbolRecord, ...]) -> tuple[SymbolPerformance, ...]:
    return tuple(
        SymbolPerformance(
            symbol=r.symbol,
            closed_trades=r.closed_trades,
            win_rate=r.wins / r.closed_trades,
            avg_r=r.sum_r / r.closed_trades,
            pnl=r.pnl,
        )
        for r in records
        if r.closed_trades
    )
