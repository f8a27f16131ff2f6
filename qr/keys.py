"""Ed25519 signing keys in the database, and the per-process ``Keyring`` that reads them.

- ``kid`` is the RFC 7638 thumbprint of the public JWK (RFC 8037 OKP).
- Private halves are AES-256-GCM encrypted under ``KEY_ENCRYPTION_KEY`` with the kid as
  associated data (a ciphertext moved to another row does not decrypt), and wiped by
  ``purge_retired_private_keys`` once the key no longer signs.
- Rotation publishes the new key *before* it signs (``publish_ahead``, two reload periods
  by default), so every process and every outside verifier caching the JWKS knows it
  before the first token it signs; the old key stops signing at that moment and stays
  published until the last token it signed can have expired.
- Each process's ``Keyring`` reloads the key set every ``reload_seconds``; an unknown kid
  triggers an early reload (at most once a second) in case a rotation was forced with
  ``--now``.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from flask import current_app
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import Database
from app.errors import ApiError
from qr.config import QrConfig, kek_id, parse_kek
from qr.models import QrSigningKey

ALG = "EdDSA"
TYP = "jinshan-qr+jwt"
FORCED_RELOAD_MIN_INTERVAL = 1.0


class KeyDecryptionError(RuntimeError):
    """A wrapped private key does not open with this KEY_ENCRYPTION_KEY."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public_raw: bytes) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(public_raw)}


def thumbprint(public_raw: bytes) -> str:
    """RFC 7638: SHA-256 of the required members in lexicographic order, no whitespace."""
    jwk = public_jwk(public_raw)
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def _aad(kid: str) -> bytes:
    return b"jinshan-qr-signing-key\0" + kid.encode("ascii")


def wrap_private(seed: bytes, kid: str, kek: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(kek).encrypt(nonce, seed, _aad(kid))


def unwrap_private(blob: bytes, kid: str, kek: bytes) -> Ed25519PrivateKey:
    from cryptography.exceptions import InvalidTag

    try:
        seed = AESGCM(kek).decrypt(blob[:12], blob[12:], _aad(kid))
    except InvalidTag as exc:
        raise KeyDecryptionError(f"the private key {kid} does not decrypt with this KEY_ENCRYPTION_KEY") from exc
    return Ed25519PrivateKey.from_private_bytes(seed)


def new_key_row(kek: bytes, *, now: datetime, active_from: datetime) -> QrSigningKey:
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public_raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    kid = thumbprint(public_raw)
    return QrSigningKey(
        kid=kid, alg=ALG, public_key=public_raw, private_key_enc=wrap_private(seed, kid, kek),
        kek_id=kek_id(kek), created_at=now, active_from=active_from,
    )


def _signing_now(session: Session, now: datetime) -> list[QrSigningKey]:
    """Keys that sign now or will sign later (not retired by ``now``)."""
    return list(session.scalars(sa.select(QrSigningKey).where(
        sa.or_(QrSigningKey.retired_at.is_(None), QrSigningKey.retired_at > now),
        QrSigningKey.private_key_enc.is_not(None),
    ).order_by(QrSigningKey.active_from)))


def init_keys(session: Session, *, kek: bytes, clock: Clock) -> tuple[QrSigningKey, bool]:
    """Create the first signing key unless one can sign. Returns (key, created)."""
    now = clock.now()
    existing = _signing_now(session, now)
    if existing:
        return existing[-1], False
    row = new_key_row(kek, now=now, active_from=now)
    session.add(row)
    session.flush()
    return row, True


def rotate_key(
    session: Session,
    *,
    kek: bytes,
    clock: Clock,
    config: QrConfig,
    immediate: bool = False,
    compromised: bool = False,
) -> QrSigningKey:
    """Add a signing key; the keys signing until now stop when it starts.

    Normally the new key starts ``publish_ahead`` from now (published first, used later),
    and old keys stay published for ``max_token_lifetime`` plus that margin after they
    stop. ``immediate`` starts it at once (verifiers that have not reloaded yet reload on
    the unknown kid). ``compromised`` also withdraws the old keys at once: every token
    they signed stops verifying as soon as each process reloads.
    """
    now = clock.now()
    active_from = now if (immediate or compromised) else now + config.publish_ahead
    if compromised:
        published = session.scalars(sa.select(QrSigningKey).where(
            sa.or_(QrSigningKey.publish_until.is_(None), QrSigningKey.publish_until > now)))
        for old in published:
            if old.retired_at is None or old.retired_at > now:
                old.retired_at = max(now, old.active_from)
            old.publish_until = now
            old.private_key_enc = None
    else:
        margin = config.publish_ahead + timedelta(seconds=2 * config.reload_seconds)
        for old in _signing_now(session, active_from):
            old.retired_at = max(active_from, old.active_from)
            old.publish_until = old.retired_at + config.max_token_lifetime + margin
    row = new_key_row(kek, now=now, active_from=active_from)
    session.add(row)
    session.flush()
    return row


def purge_retired_private_keys(session: Session, *, clock: Clock) -> int:
    """Wipe the private halves of keys that no longer sign; public halves stay."""
    now = clock.now()
    return session.execute(sa.update(QrSigningKey).where(
        QrSigningKey.retired_at <= now, QrSigningKey.private_key_enc.is_not(None),
    ).values(private_key_enc=None)).rowcount or 0


# ------------------------------------------------------------------------------ keyring

@dataclass(frozen=True)
class LoadedKey:
    kid: str
    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None
    active_from: datetime
    retired_at: datetime | None
    publish_until: datetime | None
    jwk: dict[str, str]
    header_b64: bytes  # the protected header this key signs with, already encoded

    def signs_at(self, now: datetime) -> bool:
        return self.private is not None and self.active_from <= now and (
            self.retired_at is None or self.retired_at > now)

    def published_at(self, now: datetime) -> bool:
        return self.publish_until is None or self.publish_until > now


@dataclass(frozen=True)
class KeySet:
    """An immutable snapshot; the keyring swaps whole snapshots."""

    keys: dict[str, LoadedKey] = field(default_factory=dict)
    signers: tuple[LoadedKey, ...] = ()  # newest active_from first
    jwks_body: bytes = b'{"keys":[]}'
    etag: str = ""


def _header_b64(kid: str) -> bytes:
    header = {"alg": ALG, "kid": kid, "typ": TYP}
    return base64.urlsafe_b64encode(json.dumps(header, separators=(",", ":")).encode()).rstrip(b"=")


class Keyring:
    """This process's view of the key set, reloaded from the database periodically."""

    def __init__(
        self,
        db: Database,
        kek: bytes,
        clock: Clock,
        config: QrConfig | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config or QrConfig()
        self._kek = kek
        self._kek_id = kek_id(kek)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._set: KeySet | None = None
        self._loaded_at = 0.0
        self._forced_at = -1e9
        self._private_cache: dict[str, Ed25519PrivateKey] = {}
        self._public_cache: dict[str, Ed25519PublicKey] = {}

    # -- loading

    def reload(self) -> KeySet:
        """Read the key set now (also the way tests play "time has passed")."""
        with self._lock:
            return self._load()

    def _load(self) -> KeySet:
        now = self.clock.now()
        with self.db.transaction(write=False) as s:
            rows = s.scalars(sa.select(QrSigningKey).where(
                sa.or_(QrSigningKey.publish_until.is_(None), QrSigningKey.publish_until > now),
            ).order_by(QrSigningKey.active_from.desc(), QrSigningKey.id.desc())).all()
            keys: dict[str, LoadedKey] = {}
            for row in rows:
                keys[row.kid] = self._loaded(row, now)
        signers = tuple(k for k in keys.values() if k.private is not None)
        jwks = {"keys": [dict(k.jwk, kid=k.kid, alg=ALG, use="sig") for k in keys.values()]}
        body = json.dumps(jwks, separators=(",", ":"), sort_keys=True).encode()
        snapshot = KeySet(keys=keys, signers=signers, jwks_body=body,
                          etag=hashlib.sha256(body).hexdigest()[:32])
        self._set = snapshot
        self._loaded_at = self._monotonic()
        return snapshot

    def _loaded(self, row: QrSigningKey, now: datetime) -> LoadedKey:
        public = self._public_cache.get(row.kid)
        if public is None:
            if thumbprint(row.public_key) != row.kid:
                raise KeyDecryptionError(f"key {row.kid}: the kid is not the thumbprint of its public key")
            public = self._public_cache[row.kid] = Ed25519PublicKey.from_public_bytes(row.public_key)
        private = None
        may_sign = row.retired_at is None or row.retired_at > now
        if row.private_key_enc is not None and may_sign:
            private = self._private_cache.get(row.kid)
            if private is None:
                if row.kek_id != self._kek_id:
                    raise KeyDecryptionError(
                        f"key {row.kid} is wrapped under KEK {row.kek_id}, this process has {self._kek_id}")
                private = self._private_cache[row.kid] = unwrap_private(row.private_key_enc, row.kid, self._kek)
        return LoadedKey(
            kid=row.kid, public=public, private=private, active_from=row.active_from,
            retired_at=row.retired_at, publish_until=row.publish_until,
            jwk=public_jwk(row.public_key), header_b64=_header_b64(row.kid),
        )

    def snapshot(self) -> KeySet:
        """The current key set, reloaded first when the period has passed."""
        current = self._set
        if current is None:
            with self._lock:
                return self._set or self._load()
        if self._monotonic() - self._loaded_at >= self.config.reload_seconds:
            # One thread reloads; the others go on with the snapshot they have.
            if self._lock.acquire(blocking=False):
                try:
                    return self._load()
                finally:
                    self._lock.release()
        return current

    # -- use

    def signing_key(self, now: datetime) -> LoadedKey:
        for key in self.snapshot().signers:
            if key.signs_at(now):
                return key
        raise ApiError("qr_no_signing_key")

    def verification_key(self, kid: str, now: datetime) -> LoadedKey | None:
        key = self.snapshot().keys.get(kid)
        if key is None:
            mono = self._monotonic()
            if mono - self._forced_at >= FORCED_RELOAD_MIN_INTERVAL:
                self._forced_at = mono
                key = self.reload().keys.get(kid)
        if key is None or not key.published_at(now):
            return None
        return key

    def jwks(self) -> tuple[bytes, str]:
        """The JWKS document and its ETag."""
        snap = self.snapshot()
        return snap.jwks_body, snap.etag


_create_lock = threading.Lock()


def current_keyring() -> Keyring:
    """The application's keyring, created on first use."""
    app = current_app
    keyring = app.extensions.get("qr_keyring")
    if keyring is None:
        with _create_lock:
            keyring = app.extensions.get("qr_keyring")
            if keyring is None:
                settings = app.extensions["settings"]
                keyring = Keyring(app.extensions["db"], parse_kek(settings.key_encryption_key),
                                  app.extensions["clock"], QrConfig.from_settings(settings))
                app.extensions["qr_keyring"] = keyring
    return keyring
