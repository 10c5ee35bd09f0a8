"""Redaction: every field typed `SecretStr` is shown only as set or not, wherever it sits, with no list to keep."""

from __future__ import annotations

import json

from pydantic import SecretStr

from config.redaction import MASK, secret_fields
from config.sections import AccountSettings, ExchangeSettings, HttpSettings, NotifySettings, RiskSettings
from config.settings import Settings


class _HttpWithWebhook(HttpSettings):
    webhook_secret: SecretStr | None = None


class _SettingsWithNewSecrets(Settings):
    """The settings as they would be with two secret fields added, one in a section and one at the top."""

    http: _HttpWithWebhook = _HttpWithWebhook()
    broker_token: SecretStr | None = None
    spare_token: SecretStr | None = None


def test_secret_fields_are_the_fields_typed_secret_alone_optional_or_in_a_tuple() -> None:
    assert secret_fields(ExchangeSettings) == ("api_key", "api_secret")
    assert secret_fields(AccountSettings) == ("api_key", "api_secret")
    assert secret_fields(HttpSettings) == ("token",)
    assert secret_fields(NotifySettings) == ("urls",)
    assert secret_fields(RiskSettings) == ()


def test_redacted_new_secret_fields_are_masked_without_further_code() -> None:
    settings = _SettingsWithNewSecrets(
        http={"webhook_secret": "hook-secret-123"}, broker_token="broker-token-456", spare_token=""
    )
    shown = settings.redacted()
    assert shown["http"]["webhook_secret"] == MASK and shown["broker_token"] == MASK
    assert shown["spare_token"] is None  # empty: shown as not set (pydantic's own dump would show "")
    text = json.dumps(shown)
    assert "hook-secret-123" not in text and "broker-token-456" not in text


def test_redacted_shows_each_key_as_set_or_not_and_an_account_s_keys_always() -> None:
    settings = Settings(
        exchange={"api_key": "top-key-1", "api_secret": ""},
        http={"token": "http-token-2"},
        accounts={"alice": {"api_key": "alice-key-3"}, "bob": {"symbols": ["SOLUSDT"]}},
    )
    shown = settings.redacted()
    assert shown["exchange"]["api_key"] == MASK and shown["exchange"]["api_secret"] is None  # empty: not set
    assert shown["http"]["token"] == MASK
    assert shown["accounts"] == {
        "alice": {"api_key": MASK, "api_secret": None},
        "bob": {"symbols": ["SOLUSDT"], "api_key": None, "api_secret": None},
    }
    text = json.dumps(shown)
    assert "top-key-1" not in text and "http-token-2" not in text and "alice-key-3" not in text


def test_redacted_notify_urls_keep_only_their_scheme() -> None:
    shown = Settings(notify={"urls": ["tgram://bot-token-4/chat"]}).redacted()
    assert shown["notify"]["urls"] == ["tgram://***"]


def test_exchange_settings_has_keys_only_when_not_blank() -> None:
    exchange = ExchangeSettings(api_key="  ", api_secret="secret-5")
    assert not exchange.has_api_key and exchange.has_api_secret
    assert not ExchangeSettings().has_api_key and not ExchangeSettings().has_api_secret
