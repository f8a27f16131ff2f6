"""The QR layer's settings, read once from ``Settings`` (all optional, with defaults)."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import timedelta

from app.config import ConfigError, Settings

MAX_LEEWAY_SECONDS = 10
DEFAULT_PLACE_LINK_PREFIX = "https://jsq.jinshan.example/p/"


def _int(settings: Settings, name: str, default: int) -> int:
    raw = settings.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer") from exc


@dataclass(frozen=True)
class QrConfig:
    issuer: str = "jinshan-qr"
    personal_ttl: timedelta = timedelta(seconds=60)
    leeway_seconds: int = MAX_LEEWAY_SECONDS
    max_token_lifetime: timedelta = timedelta(days=400)
    reload_seconds: float = 30.0
    publish_ahead: timedelta = timedelta(seconds=60)
    place_link_prefix: str = DEFAULT_PLACE_LINK_PREFIX
    place_code_ttl: timedelta = timedelta(days=365)
    scan_retention: timedelta = timedelta(days=180)
    poster_font: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> QrConfig:
        reload_seconds = max(1, _int(settings, "QR_KEY_RELOAD_SECONDS", 30))
        prefix = settings.get("QR_PLACE_LINK_PREFIX", DEFAULT_PLACE_LINK_PREFIX) or DEFAULT_PLACE_LINK_PREFIX
        if not prefix.startswith("https://"):
            raise ConfigError("QR_PLACE_LINK_PREFIX must be an https:// link")
        max_lifetime = timedelta(days=max(1, _int(settings, "QR_MAX_TOKEN_LIFETIME_DAYS", 400)))
        place_ttl = timedelta(days=max(1, _int(settings, "QR_PLACE_CODE_TTL_DAYS", 365)))
        if place_ttl > max_lifetime:
            raise ConfigError("QR_PLACE_CODE_TTL_DAYS may not exceed QR_MAX_TOKEN_LIFETIME_DAYS")
        return cls(
            issuer=settings.get("QR_ISSUER", "jinshan-qr") or "jinshan-qr",
            personal_ttl=timedelta(seconds=max(5, _int(settings, "QR_PERSONAL_TTL_SECONDS", 60))),
            # Never more than 10 s, whatever the environment says.
            leeway_seconds=min(MAX_LEEWAY_SECONDS, max(0, _int(settings, "QR_LEEWAY_SECONDS", 10))),
            max_token_lifetime=max_lifetime,
            reload_seconds=float(reload_seconds),
            publish_ahead=timedelta(seconds=_int(settings, "QR_KEY_PUBLISH_AHEAD_SECONDS", 2 * reload_seconds)),
            place_link_prefix=prefix,
            place_code_ttl=place_ttl,
            scan_retention=timedelta(days=max(1, _int(settings, "QR_SCAN_RETENTION_DAYS", 180))),
            poster_font=settings.get("QR_POSTER_FONT") or None,
        )

    @property
    def jwks_max_age(self) -> int:
        """Shorter than the reload period, so a verifier outside sees a new key in time."""
        return max(1, int(self.reload_seconds // 2))


def parse_kek(value: str) -> bytes:
    """``KEY_ENCRYPTION_KEY``: base64url of 32 bytes (padding optional)."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError) as exc:
        raise ConfigError("KEY_ENCRYPTION_KEY is not base64url") from exc
    if len(raw) != 32:
        raise ConfigError("KEY_ENCRYPTION_KEY must be 32 bytes")
    return raw


def kek_id(kek: bytes) -> str:
    """A short public fingerprint of the key-encryption key, stored beside each wrapped key."""
    return hashlib.sha256(b"jinshan-qr-kek\0" + kek).hexdigest()[:16]
