"""The provider chosen at start-up: production refuses the ``record`` provider unless told to,
and ``wechatpay`` without its settings; WeChat Pay's settings come from the environment."""
from __future__ import annotations

import dataclasses

import pytest

from app.config import ConfigError
from scenarios.engines.ledger.setup import runtime_for
from tests.support import fake_wechatpay as fw


def _settings(settings, **extra):
    return dataclasses.replace(settings, app_env="production", extra=dict(extra))


def test_production_refuses_the_record_provider_unless_told(settings):
    with pytest.raises(ConfigError, match="LEDGER_PROVIDER=record"):
        runtime_for(_settings(settings))
    assert runtime_for(_settings(settings, LEDGER_ALLOW_RECORD_PROVIDER="1")).provider == "record"
    assert runtime_for(settings).provider == "record"  # development and tests: record by default


def test_production_refuses_wechatpay_without_its_settings(settings):
    with pytest.raises(ConfigError, match="WECHATPAY_"):
        runtime_for(_settings(settings, LEDGER_PROVIDER="wechatpay"))


def test_an_unknown_provider_is_refused(settings):
    with pytest.raises(ConfigError, match="LEDGER_PROVIDER"):
        runtime_for(dataclasses.replace(settings, extra={"LEDGER_PROVIDER": "alipay"}))


def test_wechatpay_configured_from_the_environment(settings, tmp_path):
    fake = fw.FakeWeChatPay()
    (tmp_path / "apiclient_key.pem").write_text(fake.merchant_private_pem)
    (tmp_path / "pub_key.pem").write_text(fake.platform_public_pem)
    runtime = runtime_for(_settings(settings, LEDGER_PROVIDER="wechatpay", WECHATPAY_APPID=fw.APPID,
                                    WECHATPAY_MCHID=fw.MCHID, WECHATPAY_APIV3_KEY=fw.APIV3_KEY,
                                    WECHATPAY_CERT_SERIAL_NO=fw.MERCHANT_SERIAL,
                                    WECHATPAY_PRIVATE_KEY_PATH=str(tmp_path / "apiclient_key.pem"),
                                    WECHATPAY_PUBLIC_KEY_PATH=str(tmp_path / "pub_key.pem"),
                                    WECHATPAY_PUBLIC_KEY_ID=fw.PUBLIC_KEY_ID,
                                    WECHATPAY_NOTIFY_URL="https://example.invalid/n",
                                    WECHATPAY_API_BASE="http://127.0.0.1:9/"))
    assert runtime.provider == "wechatpay" and runtime.wechat is not None
    assert runtime.wechat._core._gate_way == "http://127.0.0.1:9"  # re-pointed, no network at start-up
