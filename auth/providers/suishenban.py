"""随申办 (Shanghai's government-services app) login: an assumed OAuth 2 protocol.

The real interface is not public; this client assumes a plain OAuth 2 authorisation-code
flow and a user-info endpoint, and is the one place to change when the real one is known.

1. ``POST {SUISHENBAN_API_BASE}/oauth2/token`` (form-encoded) with ``grant_type=
   authorization_code``, ``code``, ``client_id`` (``SUISHENBAN_CLIENT_ID``) and
   ``client_secret`` (``SUISHENBAN_CLIENT_SECRET``) →
   ``200 {"access_token": "…", "token_type": "Bearer", "expires_in": 300}``; errors are
   RFC 6749 bodies: ``400 {"error": "invalid_grant"}`` (code unknown, used or expired),
   ``401 {"error": "invalid_client"}``, ``429 {"error": "slow_down"}``.
2. ``GET {SUISHENBAN_API_BASE}/oauth2/userinfo`` with ``Authorization: Bearer <token>`` →
   ``200 {"sub": "…", "name": "张三", "id_type": "resident_id", "id_number": "…",
   "mobile": "138…", "real_name_verified": true}``; ``401 {"error": "invalid_token"}``.

Mapping: ``invalid_grant`` → 401 ``suishenban_code_invalid``; 429 → 429 ``rate_limited``;
``real_name_verified`` false (or no resident ID) → 403 ``suishenban_not_verified``; a
timeout, 5xx, ``invalid_client``, an unusable answer or a missing configuration → 503
``suishenban_unavailable`` with ``Retry-After``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors import ApiError
from auth import pii
from auth.providers import ProviderDown, http_json, log


@dataclass(frozen=True)
class SuishenbanIdentity:
    subject: str
    name: str
    id_number: str
    mobile: str | None


@dataclass(frozen=True)
class SuishenbanClient:
    base_url: str
    client_id: str
    client_secret: str
    timeout: float = 3.0
    retry_after: int = 5

    @classmethod
    def from_settings(cls, settings: Any) -> SuishenbanClient:
        return cls(
            base_url=(settings.get("SUISHENBAN_API_BASE") or "").rstrip("/"),
            client_id=settings.get("SUISHENBAN_CLIENT_ID") or "",
            client_secret=settings.get("SUISHENBAN_CLIENT_SECRET") or "",
            timeout=float(settings.get("SUISHENBAN_TIMEOUT_SECONDS") or 3),
            retry_after=int(settings.get("SUISHENBAN_RETRY_AFTER_SECONDS") or 5),
        )

    def _unavailable(self, why: str) -> ApiError:
        log.warning("suishenban login failed", extra={"provider": "suishenban", "reason": why})
        return ApiError("suishenban_unavailable", headers={"Retry-After": str(self.retry_after)})

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            return http_json(method, f"{self.base_url}{path}", timeout=self.timeout, **kw)
        except ProviderDown as exc:
            raise self._unavailable(str(exc)) from exc

    def exchange(self, code: str) -> SuishenbanIdentity:
        if not self.base_url or not self.client_id or not self.client_secret:
            raise self._unavailable("not configured")
        answer = self._call("POST", "/oauth2/token", form={
            "grant_type": "authorization_code", "code": code,
            "client_id": self.client_id, "client_secret": self.client_secret,
        })
        error = answer.body.get("error")
        if answer.status == 429 or error == "slow_down":
            raise ApiError("rate_limited", headers={"Retry-After": answer.headers.get("Retry-After", "60")})
        if error == "invalid_grant":
            raise ApiError("suishenban_code_invalid", errors={"code": ["授权码无效或已使用，请重新授权。"]})
        token = answer.body.get("access_token")
        if answer.status != 200 or error or not isinstance(token, str) or not token:
            raise self._unavailable(f"token: HTTP {answer.status} {error or ''}".strip())
        info = self._call("GET", "/oauth2/userinfo", headers={"Authorization": f"Bearer {token}"})
        if info.status != 200:
            raise self._unavailable(f"userinfo: HTTP {info.status}")
        return self._identity(info.body)

    def _identity(self, body: dict[str, Any]) -> SuishenbanIdentity:
        if body.get("real_name_verified") is not True or body.get("id_type", "resident_id") != "resident_id":
            raise ApiError("suishenban_not_verified")
        sub, name, id_number, mobile = (body.get(k) for k in ("sub", "name", "id_number", "mobile"))
        if not all(isinstance(v, str) and v for v in (sub, name, id_number)) or len(sub) > 128 or len(name) > 50:
            raise self._unavailable("userinfo without identity")
        if pii.id_number_problem(id_number):
            raise self._unavailable("userinfo with an invalid ID number")
        if not isinstance(mobile, str) or pii.mobile_problem(mobile):
            mobile = None
        return SuishenbanIdentity(sub, name.strip(), pii.normalise_id_number(id_number),
                                  pii.normalise_mobile(mobile) if mobile else None)
