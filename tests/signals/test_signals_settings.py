"""The signals section of the settings: the maximum signal age and the inbox's step lag, strict as the rest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import ConfigError, load_settings


def settings_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(body)
    return path


def test_signal_settings_defaults_sixty_seconds_and_ten_seconds() -> None:
    signals = load_settings().signals
    assert (signals.max_age_s, signals.max_step_lag_s) == (60.0, 10.0)


def test_signal_settings_from_file_taken(tmp_path: Path) -> None:
    signals = load_settings(settings_file(tmp_path, "[signals]\nmax_age_s = 15\nmax_step_lag_s = 3.5\n")).signals
    assert (signals.max_age_s, signals.max_step_lag_s) == (15.0, 3.5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[signals]\nmax_age = 30\n", "signals.max_age: unknown key (did you mean 'max_age_s'?)"),
        ("[signals]\nmax_age_s = 0\n", "signals.max_age_s: Input should be greater than 0"),
        ("[signals]\nmax_step_lag_s = -1\n", "signals.max_step_lag_s: Input should be greater than 0"),
    ],
)
def test_signal_settings_bad_value_names_the_field(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(settings_file(tmp_path, body))
