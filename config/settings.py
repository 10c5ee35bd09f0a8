"""Settings: embedded defaults, then a TOML file, then `QT_*` environment variables (read by config/loading.py).

The sections are config/sections.py's; here, the whole they make, the accounts over it, and how it is shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from config.profiles import DEFAULT_EXIT_MODES, DEFAULT_PROFILES, ExitMode, ExitModeParams, RiskProfile, RiskProfileName
from config.redaction import mask_secrets, redact_notify_url, redact_url, secret_fields
from config.sections import (
    AccountSettings,
    DatabaseSettings,
    ExchangeSettings,
    FeedSettings,
    HttpSettings,
    LeaseSettings,
    LogSettings,
    NotifySettings,
    OrchestratorSettings,
    RiskSettings,
    SignalSettings,
    Symbols,
)

ENV_PREFIX = "QT_"
SECRET_KEYS = ("api_key", "api_secret")
# An account's name is part of a schema's or a file's name: nothing there needs quoting or differs by case.
ACCOUNT_NAME = re.compile(r"^[a-z0-9_]{1,40}$")


def account_key_variables(name: str | None) -> tuple[str, str]:
    """The environment variables an account's API key and secret are read from (None: the top-level ones)."""
    where = "EXCHANGE" if name is None else f"ACCOUNTS__{name.upper()}"
    return f"{ENV_PREFIX}{where}__API_KEY", f"{ENV_PREFIX}{where}__API_SECRET"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    symbols: Symbols = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")
    risk: RiskSettings = RiskSettings()
    profiles: dict[RiskProfileName, RiskProfile] = Field(default_factory=lambda: dict(DEFAULT_PROFILES))
    exit_modes: dict[ExitMode, ExitModeParams] = Field(default_factory=lambda: dict(DEFAULT_EXIT_MODES))
    orchestrator: OrchestratorSettings = OrchestratorSettings()
    exchange: ExchangeSettings = ExchangeSettings()
    feed: FeedSettings = FeedSettings()
    signals: SignalSettings = SignalSettings()
    database: DatabaseSettings = DatabaseSettings()
    lease: LeaseSettings = LeaseSettings()
    notify: NotifySettings = NotifySettings()
    log: LogSettings = LogSettings()
    http: HttpSettings = HttpSettings()
    accounts: dict[str, AccountSettings] = Field(default_factory=dict)
    _account: str | None = PrivateAttr(default=None)  # set only by `as_account`

    @field_validator("accounts")
    @classmethod
    def _accounts_valid(cls, accounts: dict[str, AccountSettings]) -> dict[str, AccountSettings]:
        for name, account in accounts.items():
            if not ACCOUNT_NAME.match(name):
                raise ValueError(
                    f"{name!r} is not an account name: lower-case letters, digits and _ only, at most 40 "
                    "(it names the account's schema or database file)"
                )
            if account.exchange is not None and (account.exchange.api_key or account.exchange.api_secret):
                key, secret = account_key_variables(name)
                raise ValueError(f"{name}.exchange: an account's keys are read only from {key} and {secret}")
        return accounts

    @field_validator("profiles", mode="before")
    @classmethod
    def _profiles_over_defaults(cls, given: Any) -> Any:
        return _merge_table(given, DEFAULT_PROFILES)

    @field_validator("exit_modes", mode="before")
    @classmethod
    def _exit_modes_over_defaults(cls, given: Any) -> Any:
        return _merge_table(given, DEFAULT_EXIT_MODES)

    @property
    def profile(self) -> RiskProfile:
        return self.profiles[self.risk.profile]

    @property
    def account(self) -> str | None:
        """The account these settings are for; None: the top-level settings."""
        return self._account

    def as_account(self, name: str, update: dict[str, Any]) -> Settings:
        """These settings with `update` applied, as account `name`'s (config/accounts.py says what changes)."""
        settings = self.model_copy(update=update)
        settings._account = name
        return settings

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file (given as init values): operators override per host.
        return (env_settings, init_settings)

    def redacted(self) -> dict[str, Any]:
        """The effective settings as plain JSON-able data, secrets shown only as set or not (every `SecretStr`
        field, config/redaction.py), the database password masked and notification URLs only as their scheme."""
        data = mask_secrets(self, self.model_dump(mode="json"))
        data["database"]["url"] = redact_url(self.database.url)
        data["notify"]["urls"] = [redact_notify_url(url.get_secret_value()) for url in self.notify.urls]
        data["accounts"] = {  # only what each account sets; its keys as set or not
            name: mask_secrets(
                account,
                account.model_dump(mode="json", by_alias=True, exclude_unset=True)
                | dict.fromkeys(secret_fields(AccountSettings)),
            )
            for name, account in self.accounts.items()
        }
        if self.account is not None:
            data["account"] = self.account
        return data


def _merge_table(given: Any, defaults: Mapping[Any, BaseModel]) -> Any:
    """Let a file change one number of a profile without restating the others."""
    if not isinstance(given, dict):
        return given
    merged: dict[Any, Any] = {key: value.model_dump() for key, value in defaults.items()}
    for key, value in given.items():
        base = merged.get(key, {})
        merged[key] = base | value if isinstance(value, dict) else value
    return merged
