"""The risk actor: the global risk controller and sizing for every signal the orchestrator passed."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from actors.base import SupervisedActor
from actors.decisions import log_decisions
from actors.messages import DecisionReason, MarketSnapshot, OrderIntent, Signal, Stage, Step, position_id_for
from actors.protections import floor_breach
from actors.risk.book import OpenBook
from actors.risk.limits import check_new_position, correlation_lookup
from actors.risk.sizing import SizingRejected, size_position
from actors.risk.sizing_log import sizing_line
from actors.risk.terms import RiskTerms, policy_terms, risk_terms
from persistence import records
from persistence.store import Store

log = logging.getLogger("quantum_trader.risk")


class RiskActor(SupervisedActor):
    name = "risk"

    def start_up(self) -> None:
        self.store = Store(self.ctx.engine)
        self.snapshots: dict[str, MarketSnapshot] = {}

    def shut_down(self) -> None:
        if hasattr(self, "store"):
            self.store.close()

    def handle(self, message: Any) -> Any:
        if isinstance(message, Step) and message.stage == Stage.POLICY:
            self._on_step(message)
        return None

    def _on_step(self, step: Step) -> None:
        for snapshot in step.snapshots:
            self.snapshots[snapshot.symbol] = snapshot
        if not step.candidates:  # most steps: nothing to size, nothing to record
            self.pass_on(step, intents=())
            return
        assert step.portfolio is not None and step.policy is not None
        intents: list[OrderIntent] = []
        decisions: list[dict[str, Any]] = []
        self._assess(step, intents, decisions)
        if decisions:
            self.store.write(lambda c: records.insert_decisions(c, decisions))
            log_decisions(decisions, log_all=self.ctx.settings.orchestrator.flags.log_all_signals)
        self.pass_on(step, intents=tuple(intents))

    def _assess(self, step: Step, intents: list[OrderIntent], decisions: list[dict[str, Any]]) -> None:
        portfolio, policy = step.portfolio, step.policy
        assert portfolio is not None and policy is not None
        flags = self.ctx.settings.orchestrator.flags
        terms = risk_terms(policy, flags, self.ctx.settings)
        # OBSERVE: each candidate the policy's screen passed also gets what the policy's own limits and sizing
        # would have decided, judged against the account as it is, before what the static terms decide.
        would = policy_terms(policy, self.ctx.settings) if flags.observing else None
        book = OpenBook.of(portfolio.positions, self.snapshots)
        filters = dict(portfolio.filters)
        correlation = correlation_lookup(step.correlations)
        for signal in step.candidates:
            if would is not None and signal.id not in step.observed:
                guess = self._one(signal, would, portfolio.equity, book, filters, correlation)
                decisions.append(self._observed(signal, guess))
            verdict = self._one(signal, terms, portfolio.equity, book, filters, correlation)
            if isinstance(verdict, OrderIntent):
                intents.append(verdict)
                book.add(verdict)
            else:
                decisions.append(self._decision(signal, *verdict))

    def _one(
        self,
        signal: Signal,
        terms: RiskTerms,
        equity: Decimal,
        book: OpenBook,
        filters: dict[str, Any],
        correlation: Any,
    ) -> OrderIntent | tuple[DecisionReason, str]:
        settings = self.ctx.settings
        if signal.symbol in book.held:
            return (
                DecisionReason.BLOCKED_BY_POSITION_LIMIT,
                f"{signal.symbol} already has a live position (one per symbol, one-way mode)",
            )
        snapshot, symbol_filters = self.snapshots.get(signal.symbol), filters.get(signal.symbol)
        if snapshot is None or symbol_filters is None:
            return DecisionReason.REJECTED_BY_SIZING, f"no market data or exchange filters for {signal.symbol} yet"
        below_floor = floor_breach(equity, settings.risk.equity_floor_usd)  # whatever the flags
        if below_floor:
            return DecisionReason.REJECTED_BY_SIZING, below_floor
        sized = size_position(
            side=signal.side,
            price=Decimal(repr(snapshot.price)),
            atr=snapshot.atr,
            confidence=signal.confidence,
            equity=equity,
            max_risk_pct=terms.max_risk_pct,
            risk_profile=terms.risk_profile,
            profile=settings.profile,
            risk=settings.risk,
            exit_params=settings.exit_modes[terms.exit_mode],
            filters=symbol_filters,
            leverage=settings.exchange.leverage,
            open_notional=book.notional,
        )
        if log.isEnabledFor(logging.INFO):
            log.info("%s", sizing_line(signal, equity, terms, sized))
        if isinstance(sized, SizingRejected):
            return DecisionReason.REJECTED_BY_SIZING, sized.reason
        verdict = check_new_position(
            symbol=signal.symbol,
            side=signal.side,
            notional=sized.risk_at_stop,
            equity=equity,
            open_exposures=tuple(book.exposures),
            limits=terms.limits,
            correlation=correlation,
            correlation_threshold=settings.risk.correlation_threshold,
        )
        if not verdict.allowed:
            return verdict.reason, verdict.detail
        note = f"risk {sized.risk_pct:.3%} ({', '.join(sized.adjustments) or 'no adjustments'}); {verdict.detail}"
        return OrderIntent(
            position_id=position_id_for(signal.id),
            signal=signal,
            quantity=sized.quantity,
            reference_price=sized.entry_price,
            stop_distance=sized.stop_distance,
            exit_mode=terms.exit_mode,
            risk_pct=sized.risk_pct,
            note=note,
        )

    def _observed(self, signal: Signal, verdict: OrderIntent | tuple[DecisionReason, str]) -> dict[str, Any]:
        if isinstance(verdict, OrderIntent):
            quantity, mode = f"{verdict.quantity} {signal.symbol} {signal.side}", verdict.exit_mode
            reason, detail = DecisionReason.ACCEPTED, f"{quantity}, {mode} exits; {verdict.note}"
        else:
            reason, detail = verdict
        return self._decision(signal, DecisionReason.OBSERVED, f"would be {reason}: {detail}")

    def _decision(self, signal: Signal, reason: DecisionReason, detail: str) -> dict[str, Any]:
        return dict(
            signal_id=signal.id,
            at=self.ctx.clock.now_ms(),
            symbol=signal.symbol,
            side=str(signal.side),
            confidence=signal.confidence,
            source=signal.source,
            reason=str(reason),
            detail=detail,
            position_id=None,
        )
