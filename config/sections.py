"""The sections of the settings, one model each (`[risk]`, `[exchange]`, `[accounts.NAME]`...), as config/settings.py
assembles them.

Every section refuses unknown keys, so a typo in a file fails loudly instead of silently running on a default.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from config.flags import IntegrationFlags, RolloutPreset, preset_flags
from config.profiles import RiskProfileName

# Without SQLAlchemy's URL parser: pure modules import these settings, and they may not import SQLAlchemy.
_URL = re.compile(r"^(sqlite|postgresql)(\+\w+)?://")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrchestratorSettings(_Section):
    preset: RolloutPreset = RolloutPreset.FULL_LIVE
    flags: IntegrationFlags = IntegrationFlags()
    cycle_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="policy re-run interval besides closed candles"
    )

    @model_validator(mode="before")
    @classmethod
    def _flags_from_preset(cls, data: Any) -> Any:
        """The preset gives every flag; flags written out in the file override it one by one."""
        if not isinstance(data, dict):
            return data
        given = data.get("flags") or {}
        try:
            preset = RolloutPreset(data.get("preset", RolloutPreset.FULL_LIVE))
        except ValueError:
            return data  # the field's own validation names the bad preset
        if isinstance(given, IntegrationFlags) or not isinstance(given, dict):
            return data
        merged = preset_flags(preset).model_dump() | dict(given)
        return {**data, "flags": merged}


class RiskSettings(_Section):
    profile: RiskProfileName = RiskProfileName.SAFE
    min_position_usd: Decimal = Field(default=Decimal("10"), ge=0)
    max_position_usd: Decimal = Field(default=Decimal("5000"), gt=0)
    correlation_threshold: float = Field(default=0.7, gt=0, le=1)
    correlation_lookback: int = Field(
        default=120,
        ge=10,
        le=1000,
        description="candles of returns a correlation is measured over; the warm-up at start loads at least this "
        "many (Binance gives at most 1,500 klines a request)",
    )
    # Cost caps (DESIGN.md "disallowed symbols"): a symbol whose spread, or whose realised slippage over its recent
    # fills, is above its cap takes no new entries until it is back under.
    max_spread_bps: float = Field(
        default=15.0, gt=0, description="best bid/ask spread above which a symbol is disallowed"
    )
    max_slippage_bps: float = Field(
        default=20.0,
        gt=0,
        description="mean realised slippage (fill against the decision price) above which a symbol is disallowed",
    )
    slippage_window: int = Field(default=20, ge=1, le=1000, description="a symbol's recent fills its slippage is over")
    slippage_min_fills: int = Field(
        default=5, ge=1, description="fills a symbol needs within its window before its slippage cap applies"
    )
    performance_min_trades: int = Field(default=10, ge=1)
    performance_min_win_rate: float = Field(default=0.35, ge=0, le=1)
    performance_min_avg_r: float = Field(default=0.5)
    # Protections beyond the day (the drawdown limit itself is the profile's max_drawdown_pct):
    drawdown_window_days: float = Field(
        default=7, gt=0, le=365, description="the equity peak a drawdown is measured from is the highest this long"
    )
    equity_floor_usd: Decimal = Field(
        default=Decimal("100"), ge=0, description="below this equity nothing is sized and the gate pauses; 0: none"
    )
    cooldown_after_stop_outs: int = Field(
        default=3, ge=1, le=100, description="this many stop-outs of one symbol within cooldown_window_h..."
    )
    cooldown_window_h: float = Field(default=24, gt=0, le=720)
    cooldown_h: float = Field(default=6, gt=0, le=720, description="...keep new entries in it out this long")

    @model_validator(mode="after")
    def _sizes_ordered(self) -> RiskSettings:
        if self.min_position_usd > self.max_position_usd:
            raise ValueError("min_position_usd cannot exceed max_position_usd")
        if self.slippage_min_fills > self.slippage_window:
            raise ValueError("slippage_min_fills cannot exceed slippage_window: the slippage cap would never apply")
        return self


class ExchangeKind(StrEnum):
    PAPER = "paper"
    BINANCE = "binance"


_SpreadBps = Annotated[Decimal, Field(ge=0, le=500)]


class PaperSettings(_Section):
    starting_balance: Decimal = Field(default=Decimal("10000"), gt=0)
    fee_rate: Decimal = Field(default=Decimal("0.0004"), ge=0, lt=Decimal("0.01"))
    slippage_bps: Decimal = Field(default=Decimal("2"), ge=0, le=500)
    # The simulated market's best bid/ask spread around the candle price: a taker crosses half of it, then slips.
    # The market's, not the account's: read from the settings at every start (fee and slippage stay the account's).
    spread_bps: _SpreadBps = Field(default=Decimal("0"), description="spread of every symbol")
    symbol_spread_bps: dict[str, _SpreadBps] = Field(
        default_factory=dict, description="spread of a symbol, over spread_bps: {XRPUSDT = 3}"
    )

    def spread_for(self, symbol: str) -> Decimal:
        return self.symbol_spread_bps.get(symbol, self.spread_bps)


class ExchangeSettings(_Section):
    kind: ExchangeKind = ExchangeKind.PAPER
    testnet: bool = True
    leverage: int = Field(
        default=3,
        ge=1,
        le=125,
        description="the account's leverage: set on the exchange for every symbol at start, and the ceiling of "
        "the gross notional sizing lets open (equity x leverage)",
    )
    # Keeping positions safe while running (seconds):
    protect_within_s: float = Field(default=30, gt=0)  # a position without a full stop longer is closed at market
    reconcile_every_s: float = Field(default=60, gt=0, le=60)  # positions and open orders checked this often
    entry_lookup_after_s: float = Field(default=10, gt=0)  # a sent entry whose fill was not heard is looked up
    never_placed_after_s: float = Field(default=60, ge=60)  # an entry not found is written off after lookups this long
    request_timeout_s: float = Field(default=10, gt=0, le=60)  # a REST request unanswered this long: outcome unknown
    refresh_filters_every_s: float = Field(default=900, gt=0)  # symbols' trading rules read again this often
    client_id_prefix: str = Field(default="qt", pattern=r"^[a-z0-9]{1,8}$")
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    # Overrides of the Binance endpoints (a local test server, a proxy); unset: testnet or mainnet's own.
    base_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s/]+/?$", description="REST root, e.g. http://127.0.0.1:9000"
    )
    ws_url: str | None = Field(
        default=None, pattern=r"^wss?://[^\s/]+/?$", description="WebSocket root; default: from base_url"
    )
    paper: PaperSettings = PaperSettings()

    @property
    def has_api_key(self) -> bool:
        """An API key is set, and not only blanks."""
        return _given(self.api_key)

    @property
    def has_api_secret(self) -> bool:
        """An API secret is set, and not only blanks."""
        return _given(self.api_secret)


def _given(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret.get_secret_value().strip())


class FeedKind(StrEnum):
    SYNTHETIC = "synthetic"
    FILE = "file"
    BINANCE = "binance"


class FeedSettings(_Section):
    kind: FeedKind = FeedKind.SYNTHETIC
    interval: str = Field(default="1m", pattern=r"^\d+[mhd]$")
    seed: int = 7
    files: tuple[Path, ...] = ()
    synthetic_speed: float = Field(default=1.0, gt=0, description="synthetic candles per wall-clock second")


class SignalSettings(_Section):
    builtin: bool = Field(default=True, description="run the built-in EMA crossover strategy (its params: builtin)")
    inbox: Path | None = None
    # Strategies (actors/signals/strategy.py), checked at start and by `config check` (actors/signals/loading.py):
    strategies: tuple[str, ...] = Field(
        default=(), description='"package.module:Class", "path/to/file.py:Class" or an installed strategy\'s name'
    )
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="[signals.params.NAME]: a strategy's parameters over its defaults"
    )
    strategy_budget_ms: float = Field(
        default=250.0,
        ge=0,
        description="a strategy's call on one candle taking longer has its output dropped (0: no budget; replay "
        "runs without one)",
    )
    strategy_max_failures: int = Field(
        default=3,
        ge=1,
        le=100,
        description="failed candles among a strategy's last 100 that disable it and pause the gate",
    )
    max_age_s: float = Field(
        default=60.0,
        gt=0,
        description="a signal older than this (by its `at`, else by when the inbox line was first read) is "
        "recorded REJECTED_AS_STALE and never traded",
    )
    max_step_lag_s: float = Field(
        default=10.0,
        gt=0,
        description="the inbox is read only in steps at most this far behind the clock: not during the warm-up's "
        "history nor a catch-up, whose prices are old",
    )


class LeaseSettings(_Section):
    """The account's lease: one trader per account; a standby (`run --standby`) takes over when it expires."""

    seconds: float = Field(
        default=10.0,
        gt=0,
        description="how long the lease lasts unless renewed: a standby takes over this long after the owner was "
        "last heard of (at once if the owner's process is gone)",
    )
    renew_every_s: float = Field(default=2.0, gt=0, description="how often the owner renews the lease")

    @model_validator(mode="after")
    def _renewed_in_time(self) -> LeaseSettings:
        if self.renew_every_s * 2 > self.seconds:
            raise ValueError(
                f"renew_every_s ({self.renew_every_s}) must be at most half of seconds ({self.seconds}): "
                "one late renewal must not lose the lease"
            )
        return self


class NotifySettings(_Section):
    """Notifications through Apprise (Telegram, Slack, Discord, e-mail, webhooks...): gate changes, positions opened
    and closed, protection failures, lease changes and a daily summary. The URLs hold tokens: they are read only
    from the environment (QT_NOTIFY__URLS, a JSON list), never from a file, and never shown."""

    urls: tuple[SecretStr, ...] = ()
    queue_size: int = Field(default=200, ge=1, description="notices waiting to be sent; beyond it the oldest drop")
    poll_s: float = Field(default=1.0, gt=0, le=60, description="how often the committed transitions are read")
    daily_summary: bool = True


class LogSettings(_Section):
    summary_every_s: float = Field(
        default=60.0, gt=0, description="one summary line (candles, signals, decisions, positions, equity, gate)"
    )


class HttpSettings(_Section):
    """The HTTP API, dashboard and metrics served by `run`; the token is read only from QT_HTTP__TOKEN."""

    enabled: bool = True
    host: str = Field(default="127.0.0.1", min_length=1, description="address to listen on; loopback by default")
    port: int = Field(default=8686, ge=1, le=65535)
    token: SecretStr | None = Field(
        default=None, description="bearer token for halt/resume (and for everything off loopback); env only"
    )


class DatabaseSettings(_Section):
    url: str = "sqlite:///./quantum_trader.db"

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not _URL.match(url):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        try:
            urlsplit(url).port  # noqa: B018 - a port that is not a number raises here, as it would at connect
        except ValueError as error:
            raise ValueError(f"not a valid database URL: {error}") from None
        return url


def _check_symbols(symbols: tuple[str, ...]) -> tuple[str, ...]:
    if not symbols:
        raise ValueError("needs at least one symbol")
    for symbol in symbols:
        if not symbol.isalnum() or symbol != symbol.upper():
            raise ValueError(f"{symbol!r} is not an upper-case exchange symbol such as BTCUSDT")
    if len(set(symbols)) != len(symbols):
        raise ValueError("lists a symbol twice")
    return symbols


Symbols = Annotated[tuple[str, ...], AfterValidator(_check_symbols)]


class AccountSettings(_Section):
    """`[accounts.NAME]`: what one account changes of the top-level settings (only the keys it sets: see
    config/accounts.py), and its API keys, from the environment only (QT_ACCOUNTS__NAME__API_KEY)."""

    symbols: Symbols | None = None
    risk: RiskSettings | None = None
    exchange: ExchangeSettings | None = None
    feed: FeedSettings | None = None
    signals: SignalSettings | None = None
    db_schema: str | None = Field(
        default=None,
        alias="schema",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="its PostgreSQL schema; default account_NAME (on SQLite the account has a file of its own)",
    )
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
