"""Reading settings: the TOML file, then the environment, with one line per problem naming the field and why."""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError

from config.redaction import redact_url
from config.settings import SECRET_KEYS, Settings, account_key_variables


class ConfigError(Exception):
    """Settings that cannot be used; the message names each field and why."""


# Keys that were settings once: a file (or environment) still naming one is told what replaced it.
RETIRED_KEYS: dict[tuple[str, ...], str] = {
    ("risk", "max_leverage"): "no longer a setting: sizing clamps notional to the account's leverage, "
    "exchange.leverage (default 3), the one also set on the exchange; put the value you want there "
    "([exchange] leverage = N, or QT_EXCHANGE__LEVERAGE) and remove this key",
    ("risk", "atr_multiplier_sl"): "no longer a setting: each exit mode has its own stop multiple, "
    "exit_modes.<MODE>.atr_multiplier_sl (TREND_FOLLOW 2, FAST_TP 1.5, DEFENSIVE_TRAIL 1); put the values you want "
    "there ([exit_modes.FAST_TP] atr_multiplier_sl = N) and remove this key",
}


def load_settings(path: Path | str | None = None) -> Settings:
    """Defaults, the TOML file at `path` if given, then `QT_*` environment variables."""
    data: dict[str, Any] = {}
    if path is not None:
        data = _read_toml(Path(path))
    try:
        return Settings(**data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None
    except SettingsError as error:  # a QT_* variable for a list or a table that is not JSON
        raise ConfigError(
            f"{error}: a list or a table from the environment is written as JSON, e.g. "
            "QT_NOTIFY__URLS='[\"json://host/path\"]'"
        ) from None


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such settings file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    _refuse_keys(data.get("exchange"), "exchange", None)
    notify = data.get("notify")
    if isinstance(notify, dict) and "urls" in notify:
        raise ConfigError(
            "notify.urls: notification URLs carry tokens and are read only from the environment "
            "(QT_NOTIFY__URLS, a JSON list: '[\"tgram://TOKEN/CHAT\"]'), never from a file"
        )
    if isinstance(data.get("http"), dict) and "token" in data["http"]:
        raise ConfigError("http.token: the token is read only from the environment (QT_HTTP__TOKEN), never from a file")
    accounts = data.get("accounts")
    for name, account in accounts.items() if isinstance(accounts, dict) else ():
        if isinstance(account, dict):
            _refuse_keys(account, f"accounts.{name}", str(name))
            _refuse_keys(account.get("exchange"), f"accounts.{name}.exchange", str(name))
    return data


def _refuse_keys(section: Any, where: str, account: str | None) -> None:
    """API keys in a file are refused, naming the variables they are read from."""
    if not isinstance(section, dict):
        return
    for key, variable in zip(SECRET_KEYS, account_key_variables(account), strict=True):
        if key in section:
            raise ConfigError(f"{where}.{key}: keys are read only from the environment ({variable}), never from a file")


def describe_validation_error(error: ValidationError, within: tuple[str, ...] = ()) -> str:
    """One line per problem: the dotted field name (under `within`, for a section validated on its own), then why."""
    lines = []
    for problem in error.errors():
        location = [*within, *(str(part) for part in problem["loc"])]
        field = ".".join(location) or "settings"
        if problem["type"] == "extra_forbidden" and tuple(location) in RETIRED_KEYS:
            lines.append(f"{field}: {RETIRED_KEYS[tuple(location)]}")
        elif problem["type"] == "extra_forbidden":
            lines.append(f"{field}: unknown key{_did_you_mean(location)}")
        else:
            given = problem.get("input")
            if location == ["database", "url"] and isinstance(given, str):
                given = redact_url(given)
            shown = "" if isinstance(given, (dict, list)) else f" (got {given!r})"
            lines.append(f"{field}: {problem['msg']}{shown}")
    return "\n".join(lines)


def _did_you_mean(location: list[str]) -> str:
    model: Any = Settings
    parts = iter(location[:-1])
    for part in parts:
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        annotation = getattr(field, "annotation", None)
        if get_origin(annotation) is dict:  # a table such as accounts or profiles: the next part is its key
            next(parts, None)
            annotation = get_args(annotation)[1]
        model = _section_model(annotation)
        if model is None:
            return ""
    names = [field.alias or name for name, field in model.model_fields.items()]
    close = difflib.get_close_matches(location[-1], names, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _section_model(annotation: Any) -> type[BaseModel] | None:
    """The section model a field holds, also when it is optional (`RiskSettings | None`)."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None
