"""`config check`, `run` and `strategies` on strategy settings: each bad one is exit code 2 and one message naming the
strategy; a good one is listed with its effective parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from tests.signals.strategy_files import jump_file

runner = CliRunner()


def settings_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(body)
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('strategies = ["{path}:Nope"]', "has no 'Nope'"),
        ('strategies = ["{folder}/missing.py:Jump"]', "no such file"),
        ('strategies = ["{folder}/raises.py:Jump"]', "failed: RuntimeError: cannot import the model"),
        ('strategies = ["not_a_module_anywhere:Jump"]', "no module named 'not_a_module_anywhere'"),
        ('strategies = ["{path}:Jump"]\n[signals.params.jump]\nspeed = 3', "unknown parameter(s) speed"),
        ('strategies = ["{path}:Jump"]\n[signals.params.jump]\njump = "fast"', "jump: Input should be a valid number"),
        ('strategies = ["{path}:Jump"]\n[signals.params.jumpy]\njump = 0.1', "parameters given for 'jumpy'"),
    ],
)
def test_config_check_bad_strategy_setting_exit_2_naming_it(tmp_path: Path, body: str, message: str) -> None:
    path = jump_file(tmp_path)
    (tmp_path / "raises.py").write_text("raise RuntimeError('cannot import the model')\n")
    config = settings_file(tmp_path, "[signals]\n" + body.format(path=path, folder=tmp_path) + "\n")
    result = runner.invoke(app, ["config", "check", str(config)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "strategy " in result.output
    assert "Traceback" not in result.output
    run = runner.invoke(app, ["run", "--config", str(config), "--db", str(tmp_path / "never.db")])
    assert run.exit_code == 2 and message in run.output  # refused before anything starts
    assert not (tmp_path / "never.db").exists()


def test_config_check_account_strategy_named_with_its_account(tmp_path: Path) -> None:
    config = settings_file(tmp_path, '[accounts.second.signals]\nstrategies = ["nowhere_module:X"]\n')
    result = runner.invoke(app, ["config", "check", str(config)])
    assert result.exit_code == 2 and "account second: strategy nowhere_module:X" in result.output


def test_strategies_lists_configured_with_effective_params_and_installed(tmp_path: Path) -> None:
    path = jump_file(tmp_path)
    config = settings_file(
        tmp_path, f'[signals]\nbuiltin = false\nstrategies = ["{path}:Jump"]\n[signals.params.jump]\njump = 0.02\n'
    )
    assert runner.invoke(app, ["config", "check", str(config)]).exit_code == 0
    result = runner.invoke(app, ["strategies", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["spec"]: row for row in json.loads(result.output)}
    assert rows[f"{path}:Jump"]["configured"] and rows[f"{path}:Jump"]["params"] == {"jump": 0.02, "confidence": 0.9}
    assert rows["sma_crossover"]["history"] == 51 and not rows["sma_crossover"]["configured"]
    assert not rows["builtin"]["configured"] and rows["builtin"]["params"]["fast"] == 20
    table = runner.invoke(app, ["strategies", "--config", str(config)])
    assert table.exit_code == 0 and "jump=0.02" in table.output
