"""Access tokens (short JWTs) and refresh tokens (opaque, rotating, in families).

Access token: a JWS signed with HS256 under a key derived from ``SECRET_KEY`` for this use
only (HKDF info "jinshan access token v1"; never a QR key), header ``typ: at+jwt``
(RFC 9068), claims ``iss``, ``aud``, ``sub`` (account id), ``iat``, ``exp`` (minutes,
``ACCESS_TOKEN_MINUTES``, default 15), ``jti``, ``knd`` (resident | staff), ``sid`` (the
refresh family, so logout ends it at once), ``pid`` (person id, residents) and ``org``
(acting organisation code, staff). Decoding pins the algorithm and checks ``typ``, ``iss``,
``aud`` and ``exp`` against the app's clock (small leeway), so ``alg: none``, another key,
another audience or a QR token are all refused. Only the canonical compact form is taken
(no "=" padding). Each process remembers the tokens whose signature it has checked
(``_verified_claims``); the time checks and the account re-read still run on every request.

Refresh token: 32 random bytes (``rt_`` + base64url), stored only as its SHA-256. Using one
rotates it (the old one is marked rotated, a new one issued in the same family); presenting
a rotated token again is theft or a replay: the whole family is revoked.
"""
from __future__ import annotations

import functools
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth.models import Account, RefreshToken
from auth.organisations import Organisation
from auth.pii import derive_key

ALGORITHM = "HS256"
TOKEN_TYPE = "at+jwt"  # noqa: S105 (a JWT type, not a secret)
ISSUER = "jinshan-life"
AUDIENCE = "jinshan-life-api"
LEEWAY = timedelta(seconds=30)
REFRESH_PREFIX = "rt_"
VERIFIED_CACHE_SIZE = 8192  # tokens whose signature was checked, per process (~4 MB at most)
MAX_TOKEN_LENGTH = 2048
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class TokenConfig:
    key: bytes
    access_ttl: timedelta
    refresh_ttl: timedelta

    @classmethod
    def from_settings(cls, settings: Any) -> TokenConfig:
        return cls(
            key=derive_key(settings.secret_key, "jinshan access token v1"),
            access_ttl=timedelta(minutes=float(settings.get("ACCESS_TOKEN_MINUTES", "15") or 15)),
            refresh_ttl=timedelta(days=float(settings.get("REFRESH_TOKEN_DAYS", "30") or 30)),
        )


def token_config() -> TokenConfig:
    from flask import current_app

    ext = current_app.extensions
    cfg = ext.get("auth_tokens")
    if cfg is None:
        cfg = ext["auth_tokens"] = TokenConfig.from_settings(ext["settings"])
    return cfg


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    family_id: str


def hash_refresh(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def encode_access(claims: dict[str, Any], cfg: TokenConfig) -> str:
    return jwt.encode(claims, cfg.key, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE})


@functools.lru_cache(maxsize=VERIFIED_CACHE_SIZE)
def _verified_claims(token: str, key: bytes) -> tuple[tuple[str, Any], ...]:
    """The claims of a token whose header, signature, issuer and audience check out under
    ``key``, as an immutable tuple (a cached answer must not be changed by a caller).

    Cached per process: the same token comes back on every request of its 15 minutes, and
    PyJWT's parsing and HMAC are most of an authenticated request's own CPU. Only the
    signature check is cached: the time checks and the account re-read run every time. An
    error is never cached (lru_cache does not store exceptions)."""
    header = jwt.get_unverified_header(token)
    if header.get("typ") != TOKEN_TYPE or header.get("alg") != ALGORITHM:
        raise ApiError("token_invalid")
    claims = jwt.decode(
        token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
        options={"require": ["iss", "aud", "sub", "exp", "iat", "jti", "sid", "knd"],
                 "verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    return tuple(claims.items())


def decode_access(token: str, *, clock: Clock, cfg: TokenConfig | None = None) -> dict[str, Any]:
    """The verified claims, or ApiError ``token_invalid`` / ``token_expired``."""
    cfg = cfg or token_config()
    # Canonical compact form only (PyJWT would take trailing "=" padding): one spelling per
    # token, and nothing we issue is this long; both keep the cache small.
    if len(token) > MAX_TOKEN_LENGTH or not _COMPACT_JWS.fullmatch(token):
        raise ApiError("token_invalid")
    try:
        claims = dict(_verified_claims(token, cfg.key))
    except jwt.PyJWTError as exc:
        raise ApiError("token_invalid") from exc
    now = clock.now().timestamp()
    if not isinstance(claims["exp"], int | float) or not isinstance(claims["iat"], int | float):
        raise ApiError("token_invalid")
    if claims["iat"] > now + LEEWAY.total_seconds():
        raise ApiError("token_invalid")
    if claims["exp"] <= now - LEEWAY.total_seconds():
        raise ApiError("token_expired")
    if claims["knd"] not in ("resident", "staff") or not str(claims["sub"]).isdigit():
        raise ApiError("token_invalid")
    return claims


def _access_claims(account: Account, org: Organisation | None, family_id: str, now: datetime,
                   cfg: TokenConfig) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(account.id),
        "iat": int(now.timestamp()),
        "exp": int((now + cfg.access_ttl).timestamp()),
        "jti": uuid.uuid4().hex,
        "sid": family_id,
        "knd": "staff" if account.kind == "staff" else "resident",
    }
    if account.kind == "staff":
        assert org is not None, "a staff token names its acting organisation"
        claims["org"] = org.code
    else:
        claims["pid"] = account.person_id
    return claims


def issue_pair(session: Session, *, clock: Clock, account: Account, org: Organisation | None = None,
               family_id: str | None = None) -> TokenPair:
    """Issue an access token and a refresh token (a new family unless one is given)."""
    cfg = token_config()
    now = clock.now()
    family_id = family_id or str(uuid.uuid4())
    refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
    session.add(RefreshToken(
        family_id=family_id, token_hash=hash_refresh(refresh), account_id=account.id,
        organisation_id=org.id if org else None, issued_at=now, expires_at=now + cfg.refresh_ttl,
    ))
    session.flush()
    access = encode_access(_access_claims(account, org, family_id, now, cfg), cfg)
    return TokenPair(access, refresh, int(cfg.access_ttl.total_seconds()), family_id)


def revoke_family(session: Session, family_id: str, *, clock: Clock, reason: str) -> int:
    return session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
    ).rowcount


def revoke_account(session: Session, account_id: int, *, clock: Clock, reason: str) -> int:
    return session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.account_id == account_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
    ).rowcount


def family_revoked(session: Session, family_id: str) -> bool:
    return session.scalar(
        sa.select(sa.literal(1)).where(
            RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_not(None)
        ).limit(1)
    ) is not None


def find_refresh(session: Session, token: str) -> RefreshToken | None:
    if not token.startswith(REFRESH_PREFIX) or len(token) > 100:
        return None
    return session.scalar(sa.select(RefreshToken).where(RefreshToken.token_hash == hash_refresh(token)))


def rotate(session: Session, *, clock: Clock, token: str, caller_account_id: int | None = None) -> TokenPair:
    """Exchange a refresh token for a new pair, detecting reuse.

    ``caller_account_id`` is the account of a valid access token sent along, if any: a
    refresh token of another account is refused without touching either.
    """
    now = clock.now()
    row = find_refresh(session, token)
    if row is None:
        raise ApiError("refresh_token_invalid")
    if caller_account_id is not None and row.account_id != caller_account_id:
        raise ApiError("refresh_token_mismatch")
    already_rotated = row.rotated_at is not None
    # A rotated token presented again is a reuse even when its family is already revoked
    # (a third concurrent use finds it so): the answer says what happened.
    if (row.revoked_at is not None and not already_rotated) or row.expires_at <= now:
        raise ApiError("refresh_token_invalid")
    # Compare-and-set: of two concurrent uses, one rotates and the other is a reuse.
    won = session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.rotated_at.is_(None), RefreshToken.revoked_at.is_(None))
        .values(rotated_at=now), execution_options={"synchronize_session": False},
    ).rowcount
    if already_rotated or won != 1:
        revoke_family(session, row.family_id, clock=clock, reason="reuse")
        session.commit()  # the revocation must stand although the request fails
        raise ApiError("refresh_token_reused")
    account = session.get(Account, row.account_id)
    org = session.get(Organisation, row.organisation_id) if row.organisation_id else None
    if account is None or account.status != "active":
        revoke_family(session, row.family_id, clock=clock, reason="account_inactive")
        session.commit()
        raise ApiError("refresh_token_invalid")
    if account.kind == "staff":
        from auth.staff import active_membership

        if org is None or active_membership(session, account.id, org.id) is None:
            revoke_family(session, row.family_id, clock=clock, reason="membership_ended")
            session.commit()
            raise ApiError("not_a_member")
    return issue_pair(session, clock=clock, account=account, org=org, family_id=row.family_id)
