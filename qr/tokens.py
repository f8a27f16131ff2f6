"""Compact JWS tokens, alg EdDSA (RFC 8037), typ ``jinshan-qr+jwt``: signing and decoding
through PyJWT, with our own checks around it.

``decode`` rejects at the first failure, in this order:
1. shape, before PyJWT sees anything: three base64url segments of bounded length, no
   padding, no whitespace, a 64-byte signature, canonical base64 (no stray trailing bits).
   PyJWT accepts trailing ``=`` padding; a padded token is not the one we issued;
2. the header (``jwt.get_unverified_header``): exactly ``alg``, ``kid``, ``typ``; ``alg``
   must be EdDSA; a header carrying its own key or a key location (``jwk``, ``jku``,
   ``x5u``, ``x5c``...) is refused; ``typ`` must be ours; the key comes from our keyring by
   ``kid``, never from the token;
3. ``jwt.decode`` with the algorithm pinned, the cached key object, ``iss`` and the required
   claims; duplicate claim names are refused (``_decode_payload``, PyJWT's documented hook);
4. our claim types and the times: PyJWT reads the system clock, so ``exp``, ``iat`` and
   ``nbf`` are checked here against the injected clock, with at most 10 s leeway.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from app.errors import ApiError
from qr.keys import ALG, TYP, Keyring, LoadedKey

MAX_TOKEN_LENGTH = 1800
# Header and payload end on a character that leaves no stray bits (canonical base64url of a
# length of 2 or 3 mod 4); the signature is 64 bytes, 86 characters.
_SEG = r"[A-Za-z0-9_-]{{{lo},{hi}}}"
TOKEN_RE = re.compile(
    _SEG.format(lo=16, hi=300) + r"\." + _SEG.format(lo=16, hi=1400) + r"\."
    r"[A-Za-z0-9_-]{85}[AEIMQUYcgkosw048]"
)
_CANONICAL_TAIL = {0: None, 2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}
HEADER_NAMES = frozenset({"alg", "kid", "typ"})
KEY_SOURCE_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"})
REQUIRED_CLAIMS = {"iss": str, "sub": str, "iat": int, "exp": int, "jti": str, "pur": str}
OPTIONAL_CLAIMS = {"ref": str, "nbf": int}
_KNOWN_CLAIMS = REQUIRED_CLAIMS.keys() | OPTIONAL_CLAIMS.keys()
_ALGORITHMS = [ALG]
# Times are ours to check (the injected clock); PyJWT checks the signature, iss, presence.
_DECODE_OPTIONS = {"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False,
                   "require": list(REQUIRED_CLAIMS)}

MESSAGES = {
    "qr_malformed": "二维码内容不完整或格式不对。",
    "qr_invalid_signature": "二维码签名校验失败。",
    "qr_unknown_key": "二维码的签名密钥不属于本系统。",
    "qr_wrong_type": "这不是本系统签发的二维码。",
    "qr_expired": "二维码已过期。",
    "qr_not_yet_valid": "二维码尚未到生效时间。",
    "qr_wrong_purpose": "此处不受理该用途的二维码。",
    "qr_replayed": "该二维码只能使用一次，已被使用。",
    "qr_revoked": "该二维码已作废。",
}


class QrError(ApiError):
    """A rejected token; ``code`` is one of the ``qr_*`` codes. ``claims`` when decoded."""

    def __init__(self, code: str, detail: str | None = None, *, claims: Claims | None = None,
                 recorded: bool = False) -> None:
        super().__init__(code, errors={"token": [detail or MESSAGES[code]]})
        self.claims = claims
        self.recorded = recorded  # the scan's record is written already


@dataclass(frozen=True, slots=True)
class Claims:
    kid: str
    iss: str
    sub: str
    iat: int
    exp: int
    jti: str
    pur: str
    ref: str | None = None
    nbf: int | None = None

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.exp, UTC)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("duplicate member name")
    return out


class _QrJWT(jwt.PyJWT):
    """PyJWT, parsing the payload without letting a repeated claim name pass."""

    def _decode_payload(self, decoded: dict[str, Any]) -> dict[str, Any]:
        try:
            payload = json.loads(decoded["payload"], object_pairs_hook=_no_duplicates)
        except (ValueError, RecursionError) as exc:
            raise jwt.DecodeError(f"Invalid payload string: {exc}") from exc
        if not isinstance(payload, dict):
            raise jwt.DecodeError("Invalid payload string: must be a json object")
        return payload


_JWT = _QrJWT()


def sign(claims: dict[str, Any], key: LoadedKey) -> str:
    """Sign ``claims`` (already complete) with ``key``."""
    if key.private is None:
        raise ValueError("this key cannot sign")
    return _JWT.encode(claims, key.private, algorithm=ALG, headers={"kid": key.kid, "typ": TYP})


def check_shape(token: object) -> str:
    """The token, if it has the shape of one we issue; ``qr_malformed`` otherwise."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or TOKEN_RE.fullmatch(token) is None:
        raise QrError("qr_malformed")
    h_seg, p_seg, _ = token.split(".")
    for seg in (h_seg, p_seg):
        rem = len(seg) % 4
        if rem == 1 or (rem > 1 and seg[-1] not in _CANONICAL_TAIL[rem]):
            raise QrError("qr_malformed", "二维码编码不规范。")
    return token


# Header segments that passed the checks below → their kid. Our tokens carry one header per
# key, so this stays tiny; it is bounded all the same (headers that differ only in spacing or
# order are not cached past the bound). PyJWT's get_unverified_header decodes all three
# segments, which is a sixth of the verification's cost.
_HEADERS_SEEN: dict[str, str] = {}
_HEADERS_SEEN_MAX = 64


def _key_for(token: str, keyring: Keyring, now: datetime) -> LoadedKey:
    h_seg = token[:token.index(".")]
    kid = _HEADERS_SEEN.get(h_seg)
    if kid is None:
        kid = _checked_header_kid(token)
    key = keyring.verification_key(kid, now)
    if key is None:
        raise QrError("qr_unknown_key")
    if len(_HEADERS_SEEN) < _HEADERS_SEEN_MAX:
        _HEADERS_SEEN[h_seg] = kid
    return key


def _checked_header_kid(token: str) -> str:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:  # DecodeError is one
        raise QrError("qr_malformed") from exc
    if header.get("alg") != ALG:
        raise QrError("qr_invalid_signature", "不接受该签名算法。")
    key_sources = KEY_SOURCE_HEADERS.intersection(header)
    if key_sources:
        raise QrError("qr_unknown_key", f"不接受头部携带的密钥来源：{', '.join(sorted(key_sources))}。")
    if header.keys() != HEADER_NAMES:
        raise QrError("qr_malformed", "二维码头部参数不符。")
    if header["typ"] != TYP:
        raise QrError("qr_wrong_type")
    kid = header["kid"]
    if not isinstance(kid, str) or len(kid) > 64:
        raise QrError("qr_malformed")
    return kid


def decode(token: object, keyring: Keyring, *, now: datetime) -> Claims:
    """Verify ``token`` completely except what needs the database (replay, live status)."""
    token = check_shape(token)
    key = _key_for(token, keyring, now)
    leeway = keyring.config.leeway_seconds
    try:
        payload = _JWT.decode(token, key=key.public, algorithms=_ALGORITHMS, issuer=keyring.config.issuer,
                              leeway=leeway, options=_DECODE_OPTIONS)
    except jwt.InvalidSignatureError as exc:
        raise QrError("qr_invalid_signature") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise QrError("qr_invalid_signature", "不接受该签名算法。") from exc
    except jwt.InvalidIssuerError as exc:
        raise QrError("qr_wrong_type", "二维码签发方不符。") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise QrError("qr_malformed", f"二维码缺少声明 {exc.claim}。") from exc
    except jwt.InvalidTokenError as exc:  # DecodeError and the claim-type checks
        raise QrError("qr_malformed") from exc

    for name, typ in REQUIRED_CLAIMS.items():
        if type(payload[name]) is not typ:  # bool is not an int here
            raise QrError("qr_malformed", f"二维码声明 {name} 类型错误。")
    for name, typ in OPTIONAL_CLAIMS.items():
        if name in payload and type(payload[name]) is not typ:
            raise QrError("qr_malformed", f"二维码声明 {name} 类型错误。")
    if not payload.keys() <= _KNOWN_CLAIMS:
        raise QrError("qr_malformed", "二维码含有未知声明。")
    claims = Claims(kid=key.kid, **payload)
    if claims.exp <= claims.iat:
        raise QrError("qr_malformed")
    ts = int(now.timestamp())
    if ts >= claims.exp + leeway:
        raise QrError("qr_expired", claims=claims)
    if claims.iat > ts + leeway or (claims.nbf is not None and claims.nbf > ts + leeway):
        raise QrError("qr_not_yet_valid", claims=claims)
    return claims


def issue(keyring: Keyring, *, now: datetime, sub: str, jti: str, pur: str, exp: datetime,
          ref: str | None = None, nbf: datetime | None = None, iat: datetime | None = None) -> str:
    """Sign a token with the key that signs at ``now``."""
    iat_ts = int((iat or now).timestamp())
    claims: dict[str, Any] = {"iss": keyring.config.issuer, "sub": sub, "iat": iat_ts,
                              "exp": int(exp.timestamp()), "jti": jti, "pur": pur}
    if ref is not None:
        claims["ref"] = ref
    if nbf is not None and int(nbf.timestamp()) > iat_ts:
        claims["nbf"] = int(nbf.timestamp())
    return sign(claims, keyring.signing_key(now))
