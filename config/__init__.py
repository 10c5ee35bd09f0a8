"""Settings of the service: risk profiles, exit modes, integration flags, exchange, feed, database."""

from config.flags import IntegrationFlags, OrchestratorMode, RolloutPreset, preset_flags
from config.loading import ConfigError, load_settings
from config.profiles import DEFAULT_EXIT_MODES, DEFAULT_PROFILES, ExitMode, ExitModeParams, RiskProfile, RiskProfileName
from config.sections import ExchangeKind, FeedKind
from config.settings import Settings

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
