"""Signed, expiring URLs for upload content.

The mini-program's ``<image>`` cannot send an Authorization header, so whoever may see a
photo gets a URL carrying ``exp`` and ``sig = HMAC-SHA256(k, public_id, variant, exp)``,
where ``k`` is derived from ``SECRET_KEY`` for this one purpose. ``exp`` is rounded up to a
5-minute boundary: a URL lives at least ``ttl`` and at most ``ttl`` + 5 minutes, and
listing the same photos twice in a row gives the same URLs, so the client's image cache
hits.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flask import current_app

from app.clock import Clock
from app.errors import ApiError

if TYPE_CHECKING:
    from app.storage.models import Upload

VARIANTS = ("full", "thumb")
DEFAULT_TTL = timedelta(minutes=10)
EXP_GRANULARITY = 300
URL_PREFIX = "/api/v1/uploads"
_PURPOSE = b"jinshan/storage/signed-upload-url/v1"


@lru_cache(maxsize=4)
def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()


def _secret_key() -> str:
    return current_app.extensions["settings"].secret_key


def signature(public_id: str, variant: str, exp: int, *, secret_key: str) -> str:
    message = f"{public_id}\n{variant}\n{exp}".encode()
    mac = hmac.new(_key(secret_key), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def content_path(public_id: str) -> str:
    return f"{URL_PREFIX}/{public_id}/content"


def signed_url(upload: Upload, variant: str = "full", *, clock: Clock, ttl: timedelta = DEFAULT_TTL) -> str:
    """A URL serving ``upload``'s ``variant`` (full | thumb) to anyone holding it until it expires.

    Call it only for viewers allowed to see the upload. Relative to the API's origin unless
    the ``PUBLIC_BASE_URL`` setting is set.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}")
    earliest = int(clock.now().timestamp() + ttl.total_seconds())
    exp = -(-earliest // EXP_GRANULARITY) * EXP_GRANULARITY
    sig = signature(upload.public_id, variant, exp, secret_key=_secret_key())
    base = (current_app.extensions["settings"].get("PUBLIC_BASE_URL") or "").rstrip("/")
    return f"{base}{content_path(upload.public_id)}?" + urlencode({"variant": variant, "exp": exp, "sig": sig})


def verify(public_id: str, variant: str, exp: int, sig: str, *, clock: Clock) -> int:
    """Check a signed URL's parameters; return the seconds it has left.

    A wrong signature is 403 ``forbidden``; a right one past ``exp`` is 403 ``url_expired``.
    """
    expected = signature(public_id, variant, exp, secret_key=_secret_key())
    if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
        raise ApiError("forbidden")
    remaining = exp - int(clock.now().timestamp())
    if remaining <= 0:
        raise ApiError("url_expired")
    return remaining
