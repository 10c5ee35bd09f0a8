"""The policy and the gate of each cycle, worked out again only for facts not seen lately. Pure.

`compute_policy` and `desired_gate` read their inputs only through `PolicyFacts`, so inputs with equal facts get
the same policy (its note too) and the same gate. While a position is open the running figures move with every
price but the facts seldom do, and the market's volatility flickers between a few levels: the same few facts come
back again and again.
"""

from __future__ import annotations

from actors.messages import TradingPolicy
from actors.orchestrator.policy import GateTarget, PolicyFacts, PolicyInputs, gate_for, policy_facts, policy_from_facts
from config.profiles import RiskProfile
from config.sections import RiskSettings

MEMO_SIZE = 16  # the facts remembered, the first remembered dropped first (on a replay, no more misses than with LRU)


class PolicyMemo:
    """`compute_policy` and `desired_gate` for one profile, name and risk settings, fixed for its life: nothing
    else invalidates what it remembers, as the facts are all the policy reads."""

    def __init__(self, profile: RiskProfile, profile_name: str, risk: RiskSettings) -> None:
        self.profile, self.profile_name, self.risk = profile, profile_name, risk
        self._policies: dict[PolicyFacts, TradingPolicy] = {}
        # The last inputs seen (most often handed on again as they are), their facts, policy and gate (None: not
        # asked for yet): all four replaced together.
        self._inputs: PolicyInputs | None = None
        self._facts: PolicyFacts | None = None
        self._policy: TradingPolicy | None = None
        self._gate: tuple[GateTarget, str] | None = None

    def facts(self, inputs: PolicyInputs) -> PolicyFacts:
        if inputs is not self._inputs or self._facts is None:
            self._inputs, self._facts = inputs, policy_facts(inputs, self.profile)
            self._policy = self._gate = None
        return self._facts

    def policy(self, inputs: PolicyInputs) -> TradingPolicy:
        """`compute_policy(inputs, ...)`."""
        if inputs is self._inputs and self._policy is not None:  # most steps: the last step's inputs again
            return self._policy
        policy = self._policy = self._remembered(self.facts(inputs))
        return policy

    def gate(self, inputs: PolicyInputs) -> tuple[GateTarget, str]:
        """`desired_gate(inputs, ...)`."""
        if inputs is self._inputs and self._gate is not None:
            return self._gate
        gate = self._gate = gate_for(self.facts(inputs).closures)
        return gate

    def _remembered(self, facts: PolicyFacts) -> TradingPolicy:
        policy = self._policies.get(facts)
        if policy is None:
            policy = policy_from_facts(facts, self.profile, self.profile_name, self.risk)
            if len(self._policies) >= MEMO_SIZE:
                del self._policies[next(iter(self._policies))]
            self._policies[facts] = policy
        return policy
