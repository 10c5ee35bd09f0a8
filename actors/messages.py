"""Every message that crosses an actor boundary: frozen, slotted, keyword-only.

Commands are imperative, events past tense. Each carries its event time from the
injected clock (`at`, UTC milliseconds). Prices and quantities that reach the
exchange or the database are `Decimal`; indicator values are floats.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

from config.profiles import ExitMode
from exchange.market import Candle as Candle
from exchange.market import SymbolFilters as SymbolFilters
from persistence.cost_metrics import SymbolCosts as SymbolCosts


class Side(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"

    @property
    def sign(self) -> int:
        return 1 if self is Side.LONG else -1


class Regime(StrEnum):
    TRENDING_UP = "TRENDING_UP"
    TRENDING_DOWN = "TRENDING_DOWN"
    SIDEWAYS = "SIDEWAYS"
    CHOPPY = "CHOPPY"


class VolatilityLevel(StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    EXTREME = "EXTREME"


class Stage(StrEnum):
    """The hop a time step is on, named for what it carries; actors/pipeline.py says who handles each."""

    MARKET = "market"
    PORTFOLIO = "portfolio"
    EXITS = "exits"
    SIGNALS = "signals"
    POLICY = "policy"
    INTENTS = "intents"


class DecisionReason(StrEnum):
    ACCEPTED = "ACCEPTED"
    BLOCKED_BY_GATE = "BLOCKED_BY_GATE"
    BLOCKED_BY_POLICY_FILTER = "BLOCKED_BY_POLICY_FILTER"
    BLOCKED_BY_CONFIDENCE = "BLOCKED_BY_CONFIDENCE"
    BLOCKED_BY_POSITION_LIMIT = "BLOCKED_BY_POSITION_LIMIT"
    BLOCKED_BY_EXPOSURE = "BLOCKED_BY_EXPOSURE"
    REJECTED_BY_EXCHANGE = "REJECTED_BY_EXCHANGE"
    # Not in the seeds' list: the size rounded to nothing valid (DESIGN.md: "rejected with a reason, never sent").
    REJECTED_BY_SIZING = "REJECTED_BY_SIZING"
    # DESIGN.md's "reason for a signal too old to trade": older than `signals.max_age_s` by its `at` (or, without
    # one, by when the inbox line was first read); recorded by the signals actor, never traded.
    REJECTED_AS_STALE = "REJECTED_AS_STALE"
    OBSERVED = "OBSERVED"


@dataclass(frozen=True, slots=True, kw_only=True, init=False)
class MarketSnapshot:
    """What the market-data actor knows of one symbol after a closed candle."""

    symbol: str
    at: int
    price: float
    atr: float
    atr_pct: float
    volatility: VolatilityLevel
    regime: Regime

    def __init__(
        self,
        *,
        symbol: str,
        at: int,
        price: float,
        atr: float,
        atr_pct: float,
        volatility: VolatilityLevel,
        regime: Regime,
    ) -> None:
        # Every symbol makes one every time step: setting the slots through their descriptors costs half the frozen
        # dataclass's generated __init__, which sets each through object.__setattr__ by name. Still frozen: an
        # assignment afterwards raises as before.
        set_symbol, set_at, set_price, set_atr, set_atr_pct, set_volatility, set_regime = _SNAPSHOT_SLOTS
        set_symbol(self, symbol)
        set_at(self, at)
        set_price(self, price)
        set_atr(self, atr)
        set_atr_pct(self, atr_pct)
        set_volatility(self, volatility)
        set_regime(self, regime)


# The setters of MarketSnapshot's slots, in the order of its fields (and of its __init__'s arguments).
_SNAPSHOT_SLOTS = tuple(getattr(MarketSnapshot, f.name).__set__ for f in fields(MarketSnapshot))


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal:
    """A trading idea from a signal source."""

    id: str
    at: int
    symbol: str
    side: Side
    confidence: float
    source: str = "builtin"  # "inbox", or the name of the strategy that produced it
    note: str = ""  # the strategy's own words on it, logged


def position_id_for(key: str) -> str:
    """Deterministic: the same signal id (or adoption key) always names the same position, so a re-delivered
    signal is a no-op."""
    return "p-" + hashlib.sha1(key.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True, kw_only=True)
class TradingPolicy:
    """The orchestrator's output, in force until the next one."""

    allow_new_trades: bool
    min_confidence: float
    max_risk_pct: float
    exit_mode: ExitMode
    risk_profile: str
    max_open_positions: int
    max_correlated_positions: int
    max_symbol_exposure_pct: float
    max_total_exposure_pct: float
    allowed_symbols: tuple[str, ...] = ()
    disallowed_symbols: tuple[str, ...] = ()
    cooling_down: tuple[tuple[str, str], ...] = ()  # (symbol, why): no new entries after its stop-outs, for now
    note: str = ""


# The pre-orchestrator baseline's one exit mode (actors/orchestrator/screen.py's static policy); risk sizes with it
# whenever the policy does not set the exit mode.
STATIC_EXIT_MODE = ExitMode.FAST_TP


def exit_mode_in_force(policy_mode: ExitMode | None, *, enforced: bool, use_for_exit_mode: bool) -> ExitMode:
    """The exit mode new and open positions follow: the policy's when it is enforced and sets exits, else the
    static one (also before the first policy, when none was ever recorded)."""
    if policy_mode is not None and enforced and use_for_exit_mode:
        return policy_mode
    return STATIC_EXIT_MODE


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyUpdated:
    at: int
    policy: TradingPolicy
    enforced: bool = field(default=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionView:
    """What the other actors may know of one live position."""

    position_id: str
    symbol: str
    side: Side
    state: str
    quantity: Decimal  # open quantity now
    entry_price: Decimal
    stop_price: Decimal | None
    exit_mode: ExitMode
    risk_at_stop: Decimal  # quantity x distance to the stop, never below zero: the position's "exposure"


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolRecord:
    """A symbol's closed trades so far (for the policy's symbol performance)."""

    symbol: str
    closed_trades: int
    wins: int
    sum_r: float
    pnl: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Portfolio:
    """The account as the execution actor sees it after applying this step's fills."""

    equity: Decimal
    day_start_equity: Decimal
    positions: tuple[PositionView, ...] = ()
    losing_streak: int = 0
    records: tuple[SymbolRecord, ...] = ()
    filters: tuple[tuple[str, SymbolFilters], ...] = ()
    # Why the exchange refuses requests now (rate limit, IP ban); equity is then the last known.
    exchange_blocked: str = ""
    execution_hold: str = ""  # why execution cannot keep positions safe now (trading pauses), or ""
    costs: tuple[SymbolCosts, ...] = ()  # each configured symbol's spread and realised slippage now

    @property
    def daily_drawdown_pct(self) -> float:
        if self.day_start_equity <= 0:
            return 0.0
        return float(self.equity / self.day_start_equity - 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionOpened:
    position_id: str
    symbol: str
    side: Side
    entry_price: Decimal
    quantity: Decimal
    stop_price: Decimal
    take_profit_price: Decimal
    partial_price: Decimal | None
    risk_per_unit: Decimal
    trailing_pct: float
    trailing_start: Decimal  # distance in favour from the entry where trailing starts
    exit_mode: ExitMode


@dataclass(frozen=True, slots=True, kw_only=True)
class PartialTakeProfitFilled:
    position_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionClosed:
    position_id: str
    symbol: str
    reason: str
    net_pnl: Decimal  # realised PnL after fees


@dataclass(frozen=True, slots=True, kw_only=True)
class StopMoved:
    """Execution's answer to a `MoveStop`: the stop price that rests now (`moved`: the new one), so the exits
    actor trails from what is on the exchange and asks again when a move did not happen."""

    position_id: str
    stop_price: Decimal
    moved: bool
    take_profit_price: Decimal | None = None  # the take-profit resting now (answering a `mode_change`)
    exit_mode: ExitMode | None = None  # the mode the position now follows, when a `mode_change` was applied


PositionEvent = PositionOpened | PartialTakeProfitFilled | PositionClosed | StopMoved


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderIntent:
    """Risk's approved, sized entry; execution commits it before anything is sent."""

    position_id: str
    signal: Signal
    quantity: Decimal
    reference_price: Decimal
    stop_distance: Decimal
    exit_mode: ExitMode
    risk_pct: float
    note: str = ""


# A step this far behind the clock is history (a restart's warm-up, a catch-up after a gap): the actors learn
# from it, but a signal from it would trade today at yesterday's reasons, and trailing on its old highs and lows
# would move live stops past today's price.
STALE_AFTER_MS = 120_000


class Step(NamedTuple):
    """One time step (a batch of closed candles, or a timer tick with none), passed from actor to actor in the
    order of actors/pipeline.py, each adding its part.

    A named tuple, not a frozen dataclass like the other messages: each hop passes on a copy with its part
    (`at_stage`), which for a tuple costs a tenth of `dataclasses.replace`, and a step makes seven hops."""

    at: int
    stage: Stage = Stage.MARKET
    candles: tuple[Candle, ...] = ()
    snapshots: tuple[MarketSnapshot, ...] = ()
    correlations: tuple[tuple[str, str, float], ...] = ()
    portfolio: Portfolio | None = None
    events: tuple[PositionEvent, ...] = ()
    signals: tuple[Signal, ...] = ()
    policy: TradingPolicy | None = None
    candidates: tuple[Signal, ...] = ()
    # OBSERVE mode: the candidates whose would-be decision the orchestrator recorded (the policy's screen would
    # have stopped them); risk records the would-be decision of the others.
    observed: tuple[str, ...] = ()
    intents: tuple[OrderIntent, ...] = ()
    signals_hold: str = ""  # the strategies disabled after repeated failures, named with their errors: the gate pauses

    def at_stage(self, stage: Stage, changes: dict[str, Any] | None = None) -> Step:
        """This step at `stage`, with `changes` (field name -> value): `_replace` without its keyword arguments and
        its check for unknown ones, at a third of its cost (an unknown name raises KeyError all the same)."""
        values = list(self)
        values[1] = stage
        if changes:
            for name, value in changes.items():
                values[_STEP_INDEX[name]] = value
        return _new_tuple(Step, values)


_STEP_INDEX = {name: i for i, name in enumerate(Step._fields)}
_new_tuple = tuple.__new__


@dataclass(frozen=True, slots=True, kw_only=True)
class CandleBatch:
    """Command to the market-data actor: these candles closed. `cleaned`: the feed already applied the cleaning
    rules of `actors/market_data/candles.py` to them, in sequence (`FileFeed`, which counts what they found), so the
    actor does not again; any other sender leaves it False and the actor cleans them."""

    at: int
    candles: tuple[Candle, ...]
    cleaned: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    """Command to the market-data actor: run a cycle without new candles (the 10 s policy timer)."""

    at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExitModeChange:
    """What a change to a more defensive exit mode asks of an open position besides its stop (each only ever
    tighter: execution checks it against what rests)."""

    exit_mode: ExitMode
    take_profit_price: Decimal | None  # the new mode's target when it is closer; None: the target stays
    trailing_pct: float
    trailing_start: Decimal  # distance in favour from the entry where trailing starts


@dataclass(frozen=True, slots=True, kw_only=True)
class MoveStop:
    """Command to execution: replace a position's resting stop, only ever in its favour: a trailing move, or a
    change to a more defensive exit mode (`mode_change`: the target comes closer and the trail tightens too,
    recorded as one transition with the reason). Answered with `StopMoved`."""

    position_id: str
    stop_price: Decimal  # the stop wanted; one not in the position's favour of what rests stays where it is
    reason: str
    mode_change: ExitModeChange | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClosePosition:
    position_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HaltGate:
    """Command to the orchestrator: halt trading for a reason a person must look at."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorCommand:
    """Command to the orchestrator: an operator's `gate halt` / `gate resume`, queued in the database."""

    command_id: int
    command: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Shutdown:
    """Command: finish in-flight work, persist, accept no new entries."""

    reason: str
