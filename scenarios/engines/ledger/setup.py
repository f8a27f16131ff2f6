"""The ledger's per-app setup: the payment provider and, when configured, one WeChat Pay client.

``LEDGER_PROVIDER`` (``record`` by default, or ``wechatpay``) is the provider new intents use.
Production refuses to start with ``record`` (payments taken as made) unless
``LEDGER_ALLOW_RECORD_PROVIDER=1``, and with ``wechatpay`` unless WeChat Pay is configured.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from flask import Flask, current_app, has_app_context
from wechatpayv3 import WeChatPay

from app.config import ConfigError, Settings, load_settings
from scenarios.engines.ledger import wechatpay
from scenarios.engines.ledger.models import PROVIDERS


@dataclass(frozen=True)
class LedgerRuntime:
    provider: str
    wechat_config: wechatpay.WeChatPayConfig | None
    wechat: WeChatPay | None


def runtime_for(settings: Settings) -> LedgerRuntime:
    provider = settings.get("LEDGER_PROVIDER") or "record"
    if provider not in PROVIDERS:
        raise ConfigError(f"LEDGER_PROVIDER must be one of {PROVIDERS}, not {provider!r}")
    config = wechatpay.WeChatPayConfig.from_settings(settings)
    if settings.is_production:
        if provider == "record" and settings.get("LEDGER_ALLOW_RECORD_PROVIDER") != "1":
            raise ConfigError("production takes payments as made with LEDGER_PROVIDER=record: "
                              "set LEDGER_PROVIDER=wechatpay (or LEDGER_ALLOW_RECORD_PROVIDER=1)")
        if provider == "wechatpay" and config is None:
            raise ConfigError("LEDGER_PROVIDER=wechatpay needs the WECHATPAY_* settings")
    return LedgerRuntime(provider, config, wechatpay.client(config) if config else None)


def setup(app: Flask) -> None:
    app.extensions["ledger"] = runtime_for(app.extensions["settings"])


@cache
def process_runtime() -> LedgerRuntime:
    """The runtime of a process without an app context (the worker's jobs and timers)."""
    return runtime_for(load_settings())


def current_runtime() -> LedgerRuntime:
    """The app's runtime in a request; the process's elsewhere (the worker)."""
    return current_app.extensions["ledger"] if has_app_context() else process_runtime()
