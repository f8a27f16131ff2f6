"""WeChat settings, read from ``Settings.extra`` (the environment).

``WECHAT_API_BASE`` (default https://api.weixin.qq.com), ``WECHAT_APPID``, ``WECHAT_SECRET``,
``WECHAT_TIMEOUT_SECONDS`` (3), ``WECHAT_MINIPROGRAM_STATE`` (formal | trial | developer;
formal), ``WECHAT_TOKEN_MARGIN_SECONDS`` (300: refresh that long before expiry),
``WECHAT_BREAKER_FAILURES`` (5) and ``WECHAT_BREAKER_SECONDS`` (30): after that many
consecutive outages the client fails fast for that long; ``WECHAT_CALLBACK_TOKEN`` (the
token configured for the message push URL) and ``WECHAT_CALLBACK_MAX_AGE_SECONDS`` (600).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.config import ConfigError

DEFAULT_BASE = "https://api.weixin.qq.com"
MINIPROGRAM_STATES = ("formal", "trial", "developer")


@dataclass(frozen=True)
class WechatConfig:
    base_url: str = DEFAULT_BASE
    appid: str = ""
    secret: str = ""
    timeout: float = 3.0
    miniprogram_state: str = "formal"
    token_margin_seconds: int = 300
    breaker_failures: int = 5
    breaker_seconds: float = 30.0
    callback_token: str = ""
    callback_max_age_seconds: int = 600

    @property
    def configured(self) -> bool:
        return bool(self.appid and self.secret)

    @classmethod
    def from_settings(cls, settings: Any) -> WechatConfig:
        def get(name: str, default: str) -> str:
            value = settings.get(name)
            return default if value in (None, "") else value

        state = get("WECHAT_MINIPROGRAM_STATE", "formal")
        if state not in MINIPROGRAM_STATES:
            raise ConfigError(f"WECHAT_MINIPROGRAM_STATE must be one of {', '.join(MINIPROGRAM_STATES)}")
        try:
            return cls(
                base_url=get("WECHAT_API_BASE", DEFAULT_BASE).rstrip("/"),
                appid=get("WECHAT_APPID", ""),
                secret=get("WECHAT_SECRET", ""),
                timeout=float(get("WECHAT_TIMEOUT_SECONDS", "3")),
                miniprogram_state=state,
                token_margin_seconds=int(get("WECHAT_TOKEN_MARGIN_SECONDS", "300")),
                breaker_failures=int(get("WECHAT_BREAKER_FAILURES", "5")),
                breaker_seconds=float(get("WECHAT_BREAKER_SECONDS", "30")),
                callback_token=get("WECHAT_CALLBACK_TOKEN", ""),
                callback_max_age_seconds=int(get("WECHAT_CALLBACK_MAX_AGE_SECONDS", "600")),
            )
        except ValueError as exc:
            raise ConfigError(f"a WECHAT_* number is invalid: {exc}") from exc
