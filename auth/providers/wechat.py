"""WeChat mini-program login: ``jscode2session``.

``GET {WECHAT_API_BASE}/sns/jscode2session?appid=…&secret=…&js_code=…&grant_type=authorization_code``
answers ``{openid, session_key, unionid?}`` or ``{errcode, errmsg}`` (HTTP 200 either way).
Mapping: 40029 (invalid code) and 40163 (code already used) → 401 ``wechat_code_invalid``;
45011 (too frequent) → 429 ``rate_limited``; 40226 (high-risk user blocked) → 403
``wechat_user_blocked``; -1 (system busy), a timeout or any other failure → 503
``wechat_unavailable`` with ``Retry-After``. ``session_key`` stays on the server.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors import ApiError
from auth.providers import ProviderDown, http_json, log

DEFAULT_BASE = "https://api.weixin.qq.com"


@dataclass(frozen=True)
class WechatSession:
    openid: str
    session_key: str
    unionid: str | None = None


@dataclass(frozen=True)
class WechatClient:
    base_url: str
    appid: str
    secret: str
    timeout: float = 3.0
    retry_after: int = 5

    @classmethod
    def from_settings(cls, settings: Any) -> WechatClient:
        return cls(
            base_url=(settings.get("WECHAT_API_BASE") or DEFAULT_BASE).rstrip("/"),
            appid=settings.get("WECHAT_APPID") or "",
            secret=settings.get("WECHAT_SECRET") or "",
            timeout=float(settings.get("WECHAT_TIMEOUT_SECONDS") or 3),
            retry_after=int(settings.get("WECHAT_RETRY_AFTER_SECONDS") or 5),
        )

    def _unavailable(self, why: str) -> ApiError:
        log.warning("wechat jscode2session failed", extra={"provider": "wechat", "reason": why})
        return ApiError("wechat_unavailable", headers={"Retry-After": str(self.retry_after)})

    def code_to_session(self, code: str) -> WechatSession:
        if not self.appid or not self.secret:
            raise self._unavailable("not configured")
        try:
            answer = http_json("GET", f"{self.base_url}/sns/jscode2session", timeout=self.timeout, params={
                "appid": self.appid, "secret": self.secret, "js_code": code,
                "grant_type": "authorization_code",
            })
        except ProviderDown as exc:
            raise self._unavailable(str(exc)) from exc
        body = answer.body
        errcode = body.get("errcode", 0)
        if errcode in (40029, 40163):
            raise ApiError("wechat_code_invalid", errors={"code": ["登录凭证无效或已使用，请重新登录。"]})
        if errcode == 45011:
            raise ApiError("rate_limited", headers={"Retry-After": "60"})
        if errcode == 40226:
            raise ApiError("wechat_user_blocked")
        if errcode or answer.status >= 400:
            raise self._unavailable(f"errcode {errcode} HTTP {answer.status}")
        openid, session_key = body.get("openid"), body.get("session_key")
        if not isinstance(openid, str) or not openid or not isinstance(session_key, str):
            raise self._unavailable("answer without openid")
        unionid = body.get("unionid")
        return WechatSession(openid, session_key, unionid if isinstance(unionid, str) and unionid else None)
