"""The market and account a seed scenario describes, built as candles through the actor harness.

Every candle of a symbol moves its close by the same amplitude (a fraction of the price, times a volatility factor);
only the direction varies, so a symbol's ATR% is set by the factor alone:
- The reference symbol (the first configured: the policy's regime is its) moves in a fixed pattern of directions
  for the regime asked: three up and one down trends up, the reverse trends down, legs of five up and five down go
  sideways, up and down in turn is choppy (DESIGN.md's regime rule on these candles: slope and choppiness).
- The other symbols go up or down at random, each on its own, so their returns do not correlate; or, told so,
  they go down every candle (losses on long positions: the drawdown), or range as widely and close where they
  opened (a flat price: open positions' profit and loss stay put).
- The volatility level ranks the ATR% against the symbol's own history, so the warm-up ramps the factor from 0.4
  to 1.6 and then settles at 1: the NORMAL factor 1 then ranks mid-window, HIGH's 1.7 ranks in the top quarter
  while under twice the median (HIGH), EXTREME's 4 passes both EXTREME bounds within a few candles.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import numpy as np

from actors.messages import Regime
from tests.actors.harness import Harness

AMPLITUDE = 0.002  # a close-to-close move of 0.2% at the NORMAL factor
NORMAL, HIGH, EXTREME = 1.0, 1.7, 4.0
WARM_UP_RAMP, WARM_UP_SETTLE = 130, 30

PATTERNS: dict[Regime, str] = {
    Regime.TRENDING_UP: "+++-",
    Regime.TRENDING_DOWN: "---+",
    Regime.SIDEWAYS: "+++++-----",
    Regime.CHOPPY: "+-",
}

# Each mode's ATR stop well past its stop-loss cap on this market (ATR about 0.25% of price): the caps bind, so
# positions carry the seed's exits as written (TREND_FOLLOW 8/4/3, FAST_TP 5/3/2, DEFENSIVE_TRAIL 4/2/1.5).
AT_THE_CAPS = {
    "TREND_FOLLOW": {"atr_multiplier_sl": 20},
    "FAST_TP": {"atr_multiplier_sl": 15},
    "DEFENSIVE_TRAIL": {"atr_multiplier_sl": 10},
}


class SeedMarket:
    def __init__(self, h: Harness, regime: Regime) -> None:
        self.h = h
        self.reference = h.settings.symbols[0]
        self.pattern = PATTERNS[regime]
        self.count = 0
        self.directions = np.random.default_rng(5)

    def warm_up(self) -> None:
        for index in range(WARM_UP_RAMP):
            self.step(0.4 + 1.2 * index / (WARM_UP_RAMP - 1))
        for _ in range(WARM_UP_SETTLE):
            self.step()

    def step(
        self,
        volatility: float = NORMAL,
        *,
        reference: float | None = None,
        down: Iterable[str] = (),
        flat: Iterable[str] = (),
    ) -> None:
        """One candle per symbol at this volatility factor (`reference`: the reference symbol's own); `down` wins over
        `flat`."""
        down, flat = set(down), set(flat)
        moves: dict[str, float] = {}
        wicks: dict[str, float] = {}
        for symbol in self.h.prices:
            chance = 1 if self.directions.random() < 0.5 else -1  # drawn for every symbol: the sequences stay put
            if symbol == self.reference:
                sign = 1 if self.pattern[self.count % len(self.pattern)] == "+" else -1
                moves[symbol] = sign * AMPLITUDE * (volatility if reference is None else reference)
            elif symbol in down:
                moves[symbol] = -AMPLITUDE * volatility
            elif symbol in flat:  # the same range, closing where it opened
                moves[symbol], wicks[symbol] = 0.0, AMPLITUDE * volatility / 2
            else:
                moves[symbol] = chance * AMPLITUDE * volatility
        self.count += 1
        self.h.step(wicks=wicks, **moves)

    def until(self, condition: Callable[[], bool], *, limit: int, **step: Any) -> int:
        """Step until the condition holds; the number of steps it took (fails past the limit)."""
        for count in range(1, limit + 1):
            self.step(**step)
            if condition():
                return count
        raise AssertionError(f"condition not met within {limit} steps")


# --- what the service recorded -------------------------------------------------------------------------------------


def drawdown(h: Harness) -> float:
    """The day's drawdown now, as the paper account stands (the test starts and stays on one UTC day)."""
    equity = h.system.ctx.exchange.balance().equity
    return float(equity / h.settings.exchange.paper.starting_balance - 1)


def policy_snapshots(h: Harness) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every policy recorded, oldest first: (policy, the inputs it was computed from)."""
    rows = h.rows("SELECT policy, inputs FROM policy_snapshots ORDER BY id")
    return [(json.loads(policy), json.loads(inputs)) for policy, inputs in rows]


def decisions_of(h: Harness, signal_id: str) -> list[tuple[str, str]]:
    return [(reason, detail) for sid, reason, detail in h.decisions() if sid == signal_id]


def positions(h: Harness) -> dict[str, dict[str, Any]]:
    """The positions by symbol (the latest of each), with their exits as recorded."""
    found: dict[str, dict[str, Any]] = {}
    rows = h.rows(
        "SELECT id, symbol, state, exit_mode, entry_price, stop_price, take_profit_price, details, close_reason "
        "FROM positions ORDER BY created_at, id"
    )
    for pid, symbol, state, mode, entry, stop, target, details, close_reason in rows:
        found[symbol] = {
            "id": pid,
            "state": state,
            "mode": mode,
            "entry": Decimal(entry) if entry is not None else None,
            "stop": Decimal(stop) if stop is not None else None,
            "target": Decimal(target) if target is not None else None,
            "trailing_pct": json.loads(details).get("trailing_pct"),
            "close_reason": close_reason,
        }
    return found


def opened_with(h: Harness, position_id: str) -> dict[str, Any]:
    """The payload of a position's first transition: the risk percent and exit mode it was sized with."""
    ((payload,),) = h.rows(
        "SELECT payload FROM transitions WHERE machine = 'position' AND entity_id = :id ORDER BY seq LIMIT 1",
        id=position_id,
    )
    return json.loads(payload)  # type: ignore[no-any-return]


def mode_changes(h: Harness, position_id: str) -> list[str]:
    """The reasons of a position's exit-mode changes."""
    rows = h.rows(
        "SELECT reason FROM transitions WHERE entity_id = :id AND trigger = 'change_exit_mode' ORDER BY id",
        id=position_id,
    )
    return [reason for (reason,) in rows]


def exits_in_percent(position: dict[str, Any]) -> tuple[str, str, str]:
    """A long position's take-profit, stop-loss and trailing distance as percents of its entry, as the seed writes
    them ("8% TP, 4% SL, 3% trail")."""
    entry = position["entry"]
    return (
        f"{position['target'] / entry - 1:.1%}",
        f"{1 - position['stop'] / entry:.1%}",
        f"{position['trailing_pct']:.1%}",
    )


def resting(h: Harness, symbol: str) -> dict[str, list[Decimal]]:
    """The symbol's orders resting on the paper exchange, by type, with their trigger prices."""
    found: dict[str, list[Decimal]] = {}
    for order in h.system.ctx.exchange.open_orders(symbol):
        found.setdefault(str(order.type), []).append(order.trigger_price)
    return found
