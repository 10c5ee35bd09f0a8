"""Accounts: each one's section over the top-level settings, its keys from its own variables, its own schema or file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config import ConfigError, ExchangeKind, RiskProfileName, load_settings
from config.accounts import account_database_url, settings_for_account
from service.cli import app
from service.live_guard import ServiceError, check_live_guard

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TWO_ACCOUNTS = f"""
symbols = ["BTCUSDT", "ETHUSDT"]
[risk]
max_position_usd = 700
[database]
url = "{PG}"
[accounts.alice]
symbols = ["SOLUSDT"]
[accounts.alice.risk]
profile = "AGGRESSIVE"
[accounts.bob]
schema = "bobs_book"
[accounts.bob.exchange]
kind = "binance"
"""
runner = CliRunner()


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(body)
    return path


def test_account_section_over_top_level_changes_only_what_it_sets(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, TWO_ACCOUNTS))
    alice, bob = settings_for_account(settings, "alice"), settings_for_account(settings, "bob")
    assert (alice.account, bob.account, settings.account) == ("alice", "bob", None)
    assert alice.symbols == ("SOLUSDT",) and bob.symbols == ("BTCUSDT", "ETHUSDT")
    assert alice.risk.profile is RiskProfileName.AGGRESSIVE and bob.risk.profile is RiskProfileName.SAFE
    assert alice.risk.max_position_usd == bob.risk.max_position_usd == 700  # the top-level's, kept under the profile
    assert alice.exchange.kind is ExchangeKind.PAPER and bob.exchange.kind is ExchangeKind.BINANCE
    assert alice.database.url == f"{PG}?options=-csearch_path%3Daccount_alice"
    assert bob.database.url == f"{PG}?options=-csearch_path%3Dbobs_book"
    assert alice.accounts == {} and alice.redacted()["accounts"] == {}  # nothing of the other accounts


def test_account_keys_come_from_its_own_variables_never_the_top_level_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QT_ACCOUNTS__ALICE__API_KEY", "alice-key-123")
    monkeypatch.setenv("QT_ACCOUNTS__ALICE__API_SECRET", "alice-secret-456")
    monkeypatch.setenv("QT_EXCHANGE__API_KEY", "top-key-789")
    settings = load_settings(write(tmp_path, TWO_ACCOUNTS))
    alice, bob = settings_for_account(settings, "alice"), settings_for_account(settings, "bob")
    assert alice.exchange.api_key is not None and alice.exchange.api_key.get_secret_value() == "alice-key-123"
    assert alice.exchange.api_secret is not None and alice.exchange.api_secret.get_secret_value() == "alice-secret-456"
    assert bob.exchange.api_key is None and bob.exchange.api_secret is None
    with pytest.raises(ServiceError, match="QT_ACCOUNTS__BOB__API_KEY and QT_ACCOUNTS__BOB__API_SECRET not set"):
        check_live_guard(bob, live=True)


def test_account_only_in_the_environment_is_an_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_ACCOUNTS__CAROL__SYMBOLS", '["XRPUSDT"]')
    carol = settings_for_account(load_settings(), "carol")
    assert carol.symbols == ("XRPUSDT",) and carol.database.url == "sqlite:///./quantum_trader-carol.db"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[accounts.alice]\napi_key = "abc"\n',
            (
                "accounts.alice.api_key: keys are read only from the environment "
                "(QT_ACCOUNTS__ALICE__API_KEY), never from a file"
            ),
        ),
        (
            '[accounts.alice.exchange]\napi_secret = "abc"\n',
            (
                "accounts.alice.exchange.api_secret: keys are read only "
                "from the environment (QT_ACCOUNTS__ALICE__API_SECRET), never from a file"
            ),
        ),
        ('[accounts.Alice]\nsymbols = ["BTCUSDT"]\n', "'Alice' is not an account name: lower-case letters"),
        ('[accounts."a-b"]\nsymbols = ["BTCUSDT"]\n', "'a-b' is not an account name"),
        ("[accounts.alice]\nsymbls = []\n", "accounts.alice.symbls: unknown key (did you mean 'symbols'?)"),
        (
            '[accounts.alice.risk]\nprofle = "SAFE"\n',
            "accounts.alice.risk.profle: unknown key (did you mean 'profile'?)",
        ),
        ('[accounts.alice]\nschema = "Bad-Name"\n', "accounts.alice.schema: String should match pattern"),
        ('[accounts.alice]\nsymbols = ["btc"]\n', "accounts.alice.symbols: Value error, 'btc' is not an upper-case"),
    ],
)
def test_account_section_refused_names_the_field_and_why(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(write(tmp_path, body))
    assert message in str(refused.value)
    assert "abc" not in str(refused.value)


def test_account_key_in_its_exchange_variables_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_ACCOUNTS__ALICE__EXCHANGE__API_KEY", "abc-key")
    with pytest.raises(ConfigError, match="read only from QT_ACCOUNTS__ALICE__API_KEY") as refused:
        load_settings()
    assert "abc-key" not in str(refused.value)


def test_account_merged_section_is_validated_as_a_whole(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, TWO_ACCOUNTS + "[accounts.alice.exchange.paper]\nspread_bps = 3\n"))
    assert settings_for_account(settings, "alice").exchange.paper.spread_bps == 3
    settings = load_settings(
        write(tmp_path, "[risk]\nmin_position_usd = 50\n[accounts.a.risk]\nmax_position_usd = 20\n")
    )
    with pytest.raises(ConfigError, match=r"accounts\.a\.risk: Value error, min_position_usd cannot exceed"):
        settings_for_account(settings, "a")


def test_unknown_account_lists_the_configured_ones(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, TWO_ACCOUNTS))
    with pytest.raises(ConfigError, match=r"no account 'carl' in the settings \(configured: alice, bob\)"):
        settings_for_account(settings, "carl")
    with pytest.raises(ConfigError, match=r"\(configured: none\)"):
        settings_for_account(load_settings(), "alice")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///./quantum_trader.db", "sqlite:///./quantum_trader-alice.db"),
        ("sqlite:////var/lib/qt/trades.sqlite", "sqlite:////var/lib/qt/trades-alice.sqlite"),
        ("sqlite://", "sqlite://"),  # in memory: every process has its own already
        (
            "postgresql+psycopg://u:p@h:5432/db?sslmode=require&options=-cstatement_timeout%3D5000",
            (
                "postgresql+psycopg://u:p@h:5432/db?sslmode=require&options=-cstatement_timeout%3D5000%20"
                "-csearch_path%3Daccount_alice"
            ),
        ),
    ],
)
def test_account_database_url_is_its_schema_or_its_own_file(url: str, expected: str) -> None:
    assert account_database_url(url, "alice", "account_alice") == expected


def test_account_database_url_refuses_a_search_path_of_the_url_s_own() -> None:
    with pytest.raises(ConfigError, match=r"database\.url sets a search_path in its options"):
        account_database_url(f"{PG}?options=-csearch_path%3Dmine", "alice", "account_alice")


def test_config_show_account_shows_its_settings_and_never_a_key(tmp_path: Path) -> None:
    env = {"QT_ACCOUNTS__ALICE__API_KEY": "alice-key-123", "QT_ACCOUNTS__ALICE__API_SECRET": "alice-secret-456"}
    path = write(tmp_path, TWO_ACCOUNTS)
    shown = runner.invoke(app, ["config", "show", "--config", str(path), "--account", "alice"], env=env)
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["account"] == "alice" and data["symbols"] == ["SOLUSDT"] and data["exchange"]["api_key"] == "**********"
    assert data["database"]["url"].endswith("search_path%3Daccount_alice")
    top = runner.invoke(app, ["config", "check", str(path)], env=env)
    assert top.exit_code == 0, top.output
    assert "valid with its 2 account(s) (alice, bob)" in top.stderr
    accounts = json.loads(top.stdout)["accounts"]
    assert accounts["alice"]["api_key"] == "**********" and accounts["bob"] == {
        "exchange": {"kind": "binance"},
        "schema": "bobs_book",
        "api_key": None,
        "api_secret": None,
    }
    for result in (shown, top):
        assert "alice-key-123" not in result.output and "alice-secret-456" not in result.output


def test_config_check_refuses_a_file_whose_account_does_not_validate(tmp_path: Path) -> None:
    path = write(tmp_path, "[risk]\nmin_position_usd = 50\n[accounts.a.risk]\nmax_position_usd = 20\n")
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert "accounts.a.risk: Value error, min_position_usd cannot exceed max_position_usd" in result.stderr


def test_qt_account_variable_is_the_default_account(tmp_path: Path) -> None:
    path = write(tmp_path, TWO_ACCOUNTS)
    result = runner.invoke(app, ["config", "show", "--config", str(path)], env={"QT_ACCOUNT": "bob"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["account"] == "bob"
    unknown = runner.invoke(app, ["config", "show", "--config", str(path), "--account", "nobody"])
    assert unknown.exit_code == 2 and "no account 'nobody' in the settings (configured: alice, bob)" in unknown.stderr
