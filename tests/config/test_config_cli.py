"""`config check` / `config show`: every documented error names the field and why, with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config import RiskProfileName, RolloutPreset, load_settings, preset_flags
from service.cli import app

runner = CliRunner()


def check(tmp_path: Path, body: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "settings.toml"
    path.write_text(body)
    return runner.invoke(app, ["config", "check", str(path)], env=env)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[risk]\nprofle = "SAFE"\n', "risk.profle: unknown key (did you mean 'profile'?)"),
        ('symbls = ["BTCUSDT"]\n', "symbls: unknown key (did you mean 'symbols'?)"),
        ("[exchange.paper]\nfee = 0.001\n", "exchange.paper.fee: unknown key (did you mean 'fee_rate'?)"),
        ('[risk]\nprofile = "YOLO"\n', "risk.profile: Input should be 'SAFE', 'MODERATE' or 'AGGRESSIVE'"),
        (
            "[exit_modes.TREND_FOLLOW]\natr_multiplier_sl = -1\n",
            "exit_modes.TREND_FOLLOW.atr_multiplier_sl: Input should be greater than 0",
        ),
        (
            "[risk]\natr_multiplier_sl = 2\n",
            "risk.atr_multiplier_sl: no longer a setting: each exit mode has its own stop multiple",
        ),
        (
            "[risk]\ncorrelation_lookback = 5000\n",
            "risk.correlation_lookback: Input should be less than or equal to 1000",
        ),
        (
            "[profiles.SAFE]\nbase_risk_pct = 0.5\n",
            "profiles.SAFE.base_risk_pct: Input should be less than or equal to 0.1",
        ),
        (
            "[profiles.SAFE]\nbase_risk_pct = 0.05\n",
            "profiles.SAFE: Value error, needs min_risk_pct <= base_risk_pct <= max_risk_pct",
        ),
        (
            "[exit_modes.FAST_TP]\nstop_loss_pct = 1.5\n",
            "exit_modes.FAST_TP.stop_loss_pct: Input should be less than 1",
        ),
        ('[orchestrator]\npreset = "yolo"\n', "orchestrator.preset: Input should be 'observe'"),
        ("[orchestrator.flags]\nuse_for_gate = true\n", "orchestrator.flags.use_for_gate: unknown key"),
        ('symbols = ["btc-usdt"]\n', "symbols: Value error, 'btc-usdt' is not an upper-case exchange symbol"),
        ('[database]\nurl = "mysql://x"\n', "database.url: Value error, must be a sqlite:/// or postgresql:// URL"),
        ('[exchange]\nkind = "kraken"\n', "exchange.kind: Input should be 'paper' or 'binance'"),
        (
            "[exchange]\nrefresh_filters_every_s = 0\n",
            "exchange.refresh_filters_every_s: Input should be greater than 0",
        ),
        (
            '[exchange]\napi_key = "abc"\n',
            "exchange.api_key: keys are read only from the environment (QT_EXCHANGE__API_KEY)",
        ),
        ('[exchange]\napi_secret = "abc"\n', "exchange.api_secret: keys are read only from the environment"),
        ('[risk\nprofile = "SAFE"\n', "not valid TOML"),
    ],
)
def test_config_check_bad_file_names_field_and_exits_2(tmp_path: Path, body: str, message: str) -> None:
    result = check(tmp_path, body)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


def test_config_check_bad_environment_value_names_field(tmp_path: Path) -> None:
    result = check(tmp_path, "", env={"QT_RISK__PROFILE": "RECKLESS"})
    assert result.exit_code == 2
    assert "risk.profile: Input should be 'SAFE', 'MODERATE' or 'AGGRESSIVE'" in result.stderr


def test_config_check_retired_max_leverage_says_what_to_use_instead(tmp_path: Path) -> None:
    for result in (check(tmp_path, "[risk]\nmax_leverage = 5\n"), check(tmp_path, "", {"QT_RISK__MAX_LEVERAGE": "5"})):
        assert result.exit_code == 2
        assert "risk.max_leverage: no longer a setting" in result.stderr
        assert "exchange.leverage" in result.stderr and "QT_EXCHANGE__LEVERAGE" in result.stderr


def test_config_check_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "check", str(tmp_path / "absent.toml")])
    assert result.exit_code == 2 and "no such settings file" in result.stderr


def test_config_check_valid_file_prints_effective_settings_with_env_override(tmp_path: Path) -> None:
    body = (
        '[risk]\nprofile = "MODERATE"\n[orchestrator]\npreset = "observe"\n[profiles.MODERATE]\nbase_risk_pct = 0.012\n'
    )
    result = check(tmp_path, body, env={"QT_DATABASE__URL": "sqlite:///./other.db"})
    assert result.exit_code == 0, result.output
    assert "valid" in result.stderr
    effective = json.loads(result.stdout)
    assert effective["risk"]["profile"] == "MODERATE"
    assert effective["profiles"]["MODERATE"]["base_risk_pct"] == 0.012
    assert effective["profiles"]["MODERATE"]["max_open_positions"] == 8  # the rest stays at its default
    assert effective["orchestrator"]["flags"]["mode"] == "OBSERVE"
    assert effective["database"]["url"] == "sqlite:///./other.db"


def test_config_show_redacts_keys_from_the_environment() -> None:
    env = {"QT_EXCHANGE__API_KEY": "key-abc-123", "QT_EXCHANGE__API_SECRET": "secret-xyz-789"}
    result = runner.invoke(app, ["config", "show"], env=env)
    assert result.exit_code == 0
    assert "key-abc-123" not in result.output and "secret-xyz-789" not in result.output
    assert json.loads(result.stdout)["exchange"]["api_key"] == "**********"


def test_settings_defaults_are_paper_sqlite_and_design_numbers() -> None:
    settings = load_settings()
    assert settings.exchange.kind == "paper" and settings.exchange.testnet is True
    assert settings.database.url == "sqlite:///./quantum_trader.db"
    assert settings.exchange.refresh_filters_every_s == 900
    numbers = {
        name: (
            p.base_risk_pct,
            p.max_open_positions,
            p.max_correlated_positions,
            p.max_symbol_exposure_pct,
            p.max_total_exposure_pct,
            p.daily_drawdown_limit_pct,
            p.losing_streak_threshold,
            p.high_volatility_risk_pct,
        )
        for name, p in settings.profiles.items()
    }
    assert numbers == {
        RiskProfileName.SAFE: (0.01, 5, 2, 0.05, 0.10, 0.025, 3, 0.005),
        RiskProfileName.MODERATE: (0.015, 8, 3, 0.07, 0.15, 0.04, 4, 0.008),
        RiskProfileName.AGGRESSIVE: (0.02, 10, 4, 0.10, 0.20, 0.06, 5, 0.010),
    }
    modes = {
        m: (p.take_profit_pct, p.stop_loss_pct, p.trailing_pct, p.partial_tp_fraction, p.partial_tp_r)
        for m, p in settings.exit_modes.items()
    }
    assert modes == {
        "TREND_FOLLOW": (0.08, 0.04, 0.03, 0.5, 1.5),
        "FAST_TP": (0.05, 0.03, 0.02, 0.6, 1.0),
        "DEFENSIVE_TRAIL": (0.04, 0.02, 0.015, 0.7, 0.8),
    }


def test_rollout_presets_turn_on_one_step_at_a_time() -> None:
    enabled = {
        preset: {k for k, v in preset_flags(preset).model_dump().items() if k.startswith("use_for") and v}
        for preset in RolloutPreset
    }
    assert enabled[RolloutPreset.OBSERVE] == set()
    assert preset_flags(RolloutPreset.OBSERVE).mode == "OBSERVE"
    assert enabled[RolloutPreset.FILTER] == {"use_for_signal_filter", "use_for_confidence_threshold"}
    assert enabled[RolloutPreset.RISK_SIZING] == enabled[RolloutPreset.FILTER] | {"use_for_risk_sizing"}
    assert enabled[RolloutPreset.LIMITS_AND_GATE] == enabled[RolloutPreset.RISK_SIZING] | {
        "use_for_position_limits",
        "use_for_trading_gate",
    }
    assert enabled[RolloutPreset.FULL_LIVE] == enabled[RolloutPreset.LIMITS_AND_GATE] | {"use_for_exit_mode"}


SECRET_URL = "postgresql+psycopg://user:s3cret@127.0.0.1/test"


def test_config_show_database_password_is_masked() -> None:
    result = runner.invoke(app, ["config", "show"], env={"QT_DATABASE__URL": SECRET_URL})
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    assert json.loads(result.stdout)["database"]["url"] == "postgresql+psycopg://user:***@127.0.0.1/test"


def test_config_check_database_password_in_file_or_query_is_masked(tmp_path: Path) -> None:
    result = check(tmp_path, f'[database]\nurl = "{SECRET_URL}"\n')
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    assert json.loads(result.stdout)["database"]["url"] == "postgresql+psycopg://user:***@127.0.0.1/test"
    in_query = check(tmp_path, '[database]\nurl = "postgresql://db.example/test?user=qt&password=s3cret"\n')
    assert in_query.exit_code == 0, in_query.output
    assert "s3cret" not in in_query.output
    assert json.loads(in_query.stdout)["database"]["url"] == "postgresql://db.example/test?user=qt&password=***"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://user:s3cret@127.0.0.1/test", "must be a sqlite:/// or postgresql:// URL (got 'mysql://user:***@"),
        ("postgresql://user:s3cret@127.0.0.1:port/test", "not a valid database URL"),
        ("postgresql:user:s3cret@127.0.0.1", "must be a sqlite:/// or postgresql:// URL (got 'postgresql:***')"),
    ],
)
def test_config_check_bad_database_url_hides_password_and_exits_2(tmp_path: Path, url: str, message: str) -> None:
    result = check(tmp_path, f'[database]\nurl = "{url}"\n')
    assert result.exit_code == 2
    assert message in result.stderr and "database.url" in result.stderr
    assert "s3cret" not in result.output and "Traceback" not in result.output
