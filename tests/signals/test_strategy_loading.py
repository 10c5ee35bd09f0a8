"""Loading strategies from the settings: by file path, by import path, by entry point; every problem one message
naming the strategy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actors.signals.builtin import EmaCrossoverStrategy
from actors.signals.examples.sma_crossover import SmaCrossover
from actors.signals.loading import StrategyError, installed_specs, load_strategies
from config import Settings
from tests.signals.strategy_files import jump_file


def settings(*strategies: str, builtin: bool = False, **signals: Any) -> Settings:
    return Settings(signals={"builtin": builtin, "strategies": strategies, **signals})


def test_loading_file_by_path_validates_params_over_defaults(tmp_path: Path) -> None:
    path = jump_file(tmp_path)
    [loaded] = load_strategies(settings(f"{path}:Jump", params={"jump": {"jump": "0.05"}}))
    assert loaded.name == "jump" and loaded.spec == f"{path}:Jump"
    assert loaded.params.model_dump() == {"jump": 0.05, "confidence": 0.9}  # "0.05" converted by the model
    assert loaded.symbols == Settings().symbols  # no symbols declared: every one the service trades
    assert load_strategies(settings(f"{path}:Jump"))[0].cls is loaded.cls  # the file is one module


def test_loading_by_import_path_and_by_entry_point_and_builtin_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jump_file(tmp_path, module="jumps_module")
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = load_strategies(settings("jumps_module:Jump", "sma_crossover", builtin=True))
    assert [item.name for item in loaded] == ["builtin", "jump", "sma_crossover"]
    assert loaded[0].cls is EmaCrossoverStrategy and loaded[2].cls is SmaCrossover
    assert {"builtin", "sma_crossover", "breakout"} <= set(installed_specs())


def test_loading_overrides_win_and_explicit_specs_ignore_other_tables() -> None:
    configured = settings("sma_crossover", params={"sma_crossover": {"fast": 5}, "breakout": {"lookback": 30}})
    with pytest.raises(StrategyError, match="parameters given for 'breakout', which is not a strategy that runs"):
        load_strategies(configured)
    [sma] = load_strategies(configured, ["sma_crossover"], {"sma_crossover": {"slow": 60}})
    assert (sma.params.fast, sma.params.slow) == (5, 60)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("spec", "signals", "message"),
    [
        ("{path}:Missing", {}, "has no 'Missing'"),
        ("{folder}/nowhere.py:Jump", {}, "no such file"),
        ("no_such_module_xyz:Jump", {}, "no module named 'no_such_module_xyz'"),
        ("nothing-installed", {}, "not 'module:Class', 'file.py:Class' nor an installed strategy"),
        ("{path}:Jump", {"params": {"jump": {"jumpp": 0.1}}}, "unknown parameter(s) jumpp (known: confidence, jump)"),
        (
            "{path}:Jump",
            {"params": {"jump": {"jump": "high"}}},
            "bad parameter(s): jump: Input should be a valid number",
        ),
        ("{path}:JumpParams", {}, "is not a Strategy class"),
        ("sma_crossover", {"params": {"sma_crossover": {"fast": 60}}}, "fast (60) must be shorter than slow (50)"),
    ],
)
def test_loading_bad_setting_one_message_naming_the_strategy(
    tmp_path: Path, spec: str, signals: dict[str, Any], message: str
) -> None:
    path = jump_file(tmp_path)
    given = spec.format(path=path, folder=tmp_path)
    with pytest.raises(StrategyError) as raised:
        load_strategies(settings(given, **signals))
    assert message in str(raised.value)
    assert str(raised.value).startswith("strategy ") and given in str(raised.value)


def test_loading_file_that_raises_on_import_names_the_error_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("import math\n\nx = 1 / 0\n")
    with pytest.raises(
        StrategyError,
        match=r"loading .*broken.py failed: ZeroDivisionError: division by zero "
        r"\(broken.py, line 3\)",
    ):
        load_strategies(settings(f"{path}:Anything"))


def test_loading_file_with_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "typo.py"
    path.write_text("x = 1\ndef broken(:\n")
    with pytest.raises(StrategyError) as raised:
        load_strategies(settings(f"{path}:Anything"))
    assert str(raised.value).endswith("SyntaxError: invalid syntax (typo.py, line 2)")


def test_loading_names_checked_duplicate_reserved_and_symbols(tmp_path: Path) -> None:
    path = jump_file(tmp_path)
    with pytest.raises(StrategyError, match=r"'jump' .* configured twice"):
        load_strategies(settings(f"{path}:Jump", f"{jump_file(tmp_path, module='again')}:Jump"))
    for bad in ("builtin", "inbox", "Upper", "much-too-long-a-name"):
        jump_file(tmp_path, name=bad, module=f"named_{bad.replace('-', '_').lower()}")
        with pytest.raises(StrategyError, match=r"taken by the service's own signals|is not 1 to 16 characters"):
            load_strategies(settings(f"{tmp_path}/named_{bad.replace('-', '_').lower()}.py:Jump"))
    wants = tmp_path / "wants.py"
    wants.write_text(path.read_text().replace('name = "jump"', 'name = "wants"\n    symbols = ("DOGEUSDT",)'))
    with pytest.raises(StrategyError, match="wants DOGEUSDT, none of which the service trades"):
        load_strategies(settings(f"{wants}:Jump"))
    hourly = tmp_path / "hourly.py"
    hourly.write_text(path.read_text().replace('name = "jump"', 'name = "hourly"\n    timeframe = "1h"'))
    with pytest.raises(StrategyError, match="wants 1h candles, the feed gives 1m"):
        load_strategies(settings(f"{hourly}:Jump"))
