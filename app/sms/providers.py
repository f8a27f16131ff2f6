"""SMS providers: ``record`` (the default: nothing is sent, the channel's table is the record)
and ``http``, a provider speaking this small JSON API:

``POST {SMS_API_BASE}/messages`` with the body ``{"to": "13912345678", "template": "JS_TICKET_ACK",
"params": {"no": "T123"}, "reference": "outbox-42"}`` (UTF-8 JSON) and the headers
``X-Sms-Timestamp`` (Unix seconds), ``X-Sms-Nonce`` (random hex), ``X-Sms-Signature`` =
hex(HMAC-SHA256(``SMS_API_KEY``, timestamp + "\\n" + nonce + "\\n" + body bytes)) and
``Idempotency-Key`` (= ``reference``: a provider honouring it sends a retried message once).
Answers: 2xx ``{"id": "..."}`` → sent; 429 and 5xx, timeouts and network errors → retry;
other 4xx → failed for good (``{"error": "..."}`` is recorded). ``SMS_TIMEOUT_SECONDS`` (5).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from app.clock import Clock
from app.config import ConfigError
from app.http_json import Unreachable, encode, post_json


@dataclass(frozen=True)
class SmsResult:
    state: str  # sent | retry | failed
    ref: str | None = None
    detail: str = ""


class SmsProvider(Protocol):
    name: str

    def send(self, *, to: str, template: str, params: dict[str, str], reference: str) -> SmsResult: ...


class RecordProvider:
    """Sends nothing: the channel stores the message (``sms_messages``) for staff and demos."""

    name = "record"

    def send(self, *, to: str, template: str, params: dict[str, str], reference: str) -> SmsResult:
        return SmsResult("sent", ref=reference)


def sign(key: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(key.encode(), f"{timestamp}\n{nonce}\n".encode() + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class HttpProvider:
    base_url: str
    api_key: str
    clock: Clock
    timeout: float = 5.0
    name: str = "http"

    def send(self, *, to: str, template: str, params: dict[str, str], reference: str) -> SmsResult:
        raw = encode({"to": to, "template": template, "params": params, "reference": reference})
        timestamp, nonce = str(int(self.clock.now().timestamp())), secrets.token_hex(8)
        headers = {"X-Sms-Timestamp": timestamp, "X-Sms-Nonce": nonce, "Idempotency-Key": reference,
                   "X-Sms-Signature": sign(self.api_key, timestamp, nonce, raw)}
        try:
            answer = post_json(f"{self.base_url}/messages", {}, raw=raw, headers=headers, timeout=self.timeout)
        except Unreachable as exc:
            return SmsResult("retry", detail=f"sms provider: {exc}")
        status, body = answer.status, answer.body
        if 200 <= status < 300:
            ref = body.get("id")
            return SmsResult("sent", ref=str(ref)[:100] if ref is not None else None)
        error = str(body.get("error") or "")[:60]
        if status == 429 or status >= 500:
            return SmsResult("retry", detail=f"sms provider HTTP {status} {error}".strip())
        return SmsResult("failed", detail=f"sms provider HTTP {status} {error}".strip())


def provider_for(settings: Any, clock: Clock) -> SmsProvider:
    kind = settings.get("SMS_PROVIDER") or "record"
    if kind == "record":
        return RecordProvider()
    if kind == "http":
        base, key = settings.get("SMS_API_BASE"), settings.get("SMS_API_KEY")
        if not base or not key:
            raise ConfigError("SMS_PROVIDER=http needs SMS_API_BASE and SMS_API_KEY")
        try:
            timeout = float(settings.get("SMS_TIMEOUT_SECONDS") or 5)
        except ValueError as exc:
            raise ConfigError("SMS_TIMEOUT_SECONDS must be a number") from exc
        return HttpProvider(base.rstrip("/"), key, clock, timeout)
    raise ConfigError("SMS_PROVIDER must be record or http")
