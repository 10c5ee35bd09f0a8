"""Settings fit to show (`config show`, logs, error messages): secrets only as set or not, passwords masked.

A secret is a field typed `SecretStr` (alone, optional, or a tuple of them), wherever it sits: `mask_secrets` finds
them from the models' own values, so a new secret field is masked without a line here.
"""

from __future__ import annotations

import re
from types import NoneType
from typing import Any, get_args

from pydantic import BaseModel, SecretStr

MASK = "**********"

_PASSWORD_IN_NETLOC = re.compile(r"^([^:/?#]+://[^/?#@:]*:)[^/?#]*@")  # greedy: a password may hold an "@"
_PASSWORD_IN_QUERY = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)  # libpq reads one there too


def redact_url(url: str) -> str:
    """A database URL fit to show (settings, logs, error messages): its password masked as `***`, whether
    in `user:password@` or in a `?password=` parameter; the rest exactly as written."""
    if "://" not in url:
        return url.split(":", 1)[0] + ":***"  # not a URL: no telling where a password sits, so only the scheme
    return _PASSWORD_IN_QUERY.sub(r"\1***", _PASSWORD_IN_NETLOC.sub(r"\1***@", url))


def redact_notify_url(url: str) -> str:
    """An Apprise URL fit to show: only its scheme (`tgram://***`); its host, path and query may all be tokens."""
    scheme, found, _ = url.partition("://")
    return f"{scheme}://***" if found else "***"


def secret_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The names of `model`'s own fields typed `SecretStr`, alone, optional or a tuple of them."""
    return tuple(name for name, field in model.model_fields.items() if _is_secret(field.annotation))


def _is_secret(annotation: Any) -> bool:
    args = get_args(annotation)
    if annotation is SecretStr:
        return True
    return SecretStr in args and all(arg in (SecretStr, NoneType, Ellipsis) for arg in args)


def mask_secrets(model: BaseModel, data: dict[str, Any]) -> dict[str, Any]:
    """`data`, the JSON dump of `model` (all of it, or only what was set), with every secret it holds shown only as
    set (`MASK`) or not (None): in the model's fields and in its sections' at any depth, in tables and tuples too."""
    fields = type(model).model_fields
    for name, value in model:
        key = fields[name].alias or name
        if key in data:
            data[key] = _masked(value, data[key])
    return data


def _masked(value: Any, dumped: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else None
    if isinstance(value, BaseModel) and isinstance(dumped, dict):
        return mask_secrets(value, dumped)
    if isinstance(value, dict) and isinstance(dumped, dict):  # a table: dumped in the same order, keys as JSON
        return {key: _masked(item, shown) for item, (key, shown) in zip(value.values(), dumped.items(), strict=True)}
    if isinstance(value, tuple | list) and isinstance(dumped, list):
        return [_masked(item, shown) for item, shown in zip(value, dumped, strict=True)]
    return dumped
