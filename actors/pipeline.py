"""The order in which the actors see a time step: one route per line, like the state tables.

The market-data actor starts a step at the first stage; each actor handles its stage and passes the step on to
the next route (`SupervisedActor.pass_on`); the last one finishes it, which lets the driver hand in the next.
"""

from __future__ import annotations

from actors.messages import Stage

ROUTES: tuple[tuple[Stage, str], ...] = (
    (Stage.MARKET, "execution"),  # the step's candles: the paper exchange matches, fills are applied
    (Stage.PORTFOLIO, "exits"),  # the account after the fills: exits trail stops, take partials, close
    (Stage.EXITS, "signals"),  # exits have had their say: the signal sources speak
    (Stage.SIGNALS, "orchestrator"),  # the step's signals: policy, gate, symbol filter, confidence
    (Stage.POLICY, "risk"),  # the policy and the candidates: limits and sizing
    (Stage.INTENTS, "execution"),  # the sized entries: written ahead and sent; the step ends here
)

FIRST: tuple[Stage, str] = ROUTES[0]
# The route a step takes after each stage, None after the last: one look-up a hop.
AFTER: dict[Stage, tuple[Stage, str] | None] = {
    stage: ROUTES[i + 1] if i + 1 < len(ROUTES) else None for i, (stage, _) in enumerate(ROUTES)
}
