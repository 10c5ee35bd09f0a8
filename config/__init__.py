"""Settings of the service: risk profiles, exit modes, integration flags, exchange, feed, database."""

from config.flags import IntegrationFlags, OrchestratorMode, RolloutPreset, preset_flags
from config.profiles import DEFAULT_EXIT_MODES, DEFAULT_PROFILES, ExitMode, ExitModeParams, RiskProfile, RiskProfileName
from config.settings import ConfigError, ExchangeKind, FeedKind, Settings, load_settings

__all__ = [
    "DEFAULT_EXIT_MODES",
    "DEFAULT_PROFILES",
    "ConfigError",
    "ExchangeKind",
    "ExitMode",
    "ExitModeParams",
    "FeedKind",
    "IntegrationFlags",
    "OrchestratorMode",
    "RiskProfile",
    "RiskProfileName",
    "RolloutPreset",
    "Settings",
    "load_settings",
    "preset_flags",
]
