"""WeCom settings, read from ``Settings.extra`` (the environment).

``WECOM_API_BASE`` (default https://qyapi.weixin.qq.com), ``WECOM_CORP_ID``, ``WECOM_AGENT_ID``
(the application's integer id), ``WECOM_SECRET`` (the application's secret),
``WECOM_TIMEOUT_SECONDS`` (3), ``WECOM_BREAKER_FAILURES`` (5) and ``WECOM_BREAKER_SECONDS``
(30): after that many consecutive outages the client fails fast for that long;
``CONSOLE_BASE_URL``: where the staff console is served (``https://jsq.jinshan.example``), the
base of every card's link. WeCom is configured when the corp id, agent id, secret and console
URL are all set; otherwise the channel fails each message with "WeCom not configured".
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from app.config import ConfigError

DEFAULT_BASE = "https://qyapi.weixin.qq.com"
TOKEN_KEY_MAX = 64  # wechat_access_tokens.appid


@dataclass(frozen=True)
class WecomConfig:
    base_url: str = DEFAULT_BASE
    corp_id: str = ""
    agent_id: int | None = None
    secret: str = ""
    timeout: float = 3.0
    console_base_url: str = ""
    breaker_failures: int = 5
    breaker_seconds: float = 30.0

    @property
    def missing(self) -> list[str]:
        """The settings still needed, by name."""
        names = [("WECOM_CORP_ID", self.corp_id), ("WECOM_AGENT_ID", self.agent_id),
                 ("WECOM_SECRET", self.secret), ("CONSOLE_BASE_URL", self.console_base_url)]
        return [name for name, value in names if value in (None, "")]

    @property
    def configured(self) -> bool:
        return not self.missing

    @property
    def token_key(self) -> str:
        """The key of the shared token row: one token per (corp, application)."""
        key = f"wecom:{self.corp_id}:{self.agent_id}"
        if len(key) > TOKEN_KEY_MAX:
            key = "wecom:" + hashlib.sha256(key.encode()).hexdigest()[: TOKEN_KEY_MAX - 6]
        return key

    @classmethod
    def from_settings(cls, settings: Any) -> WecomConfig:
        def get(name: str, default: str) -> str:
            value = settings.get(name)
            return default if value in (None, "") else str(value).strip()

        agent = get("WECOM_AGENT_ID", "")
        try:
            agent_id = int(agent) if agent else None
        except ValueError as exc:
            raise ConfigError("WECOM_AGENT_ID must be an integer") from exc
        console = get("CONSOLE_BASE_URL", "").rstrip("/")
        if console and not console.startswith(("https://", "http://")):
            raise ConfigError("CONSOLE_BASE_URL must be an http(s) URL")
        try:
            return cls(
                base_url=get("WECOM_API_BASE", DEFAULT_BASE).rstrip("/"),
                corp_id=get("WECOM_CORP_ID", ""),
                agent_id=agent_id,
                secret=get("WECOM_SECRET", ""),
                timeout=float(get("WECOM_TIMEOUT_SECONDS", "3")),
                console_base_url=console,
                breaker_failures=int(get("WECOM_BREAKER_FAILURES", "5")),
                breaker_seconds=float(get("WECOM_BREAKER_SECONDS", "30")),
            )
        except ValueError as exc:
            raise ConfigError(f"a WECOM_* number is invalid: {exc}") from exc
