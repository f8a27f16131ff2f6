"""Routes of the QR layer.

- ``GET /.well-known/jwks.json``: the public keys that verify our codes. Cached by clients
  for less than the keyring's reload period (``max-age`` is half of it), with an ETag so a
  revalidation costs a 304. New keys are published a while before they sign (see
  ``qr.keys``), so a verifier that respects ``max-age`` never meets an unknown kid.
- ``POST /api/v1/qr/personal`` and ``GET /api/v1/qr/personal/image``: a resident's personal
  code (随申码-style), as a token or as a fresh image. Limited per resident (``qr_personal``,
  shared by both routes; generous: the mini-program refreshes a code about every 45 s).
- ``POST /api/v1/qr/verify``: devices (HTTP Basic) and staff verify a code. Never rate
  limited (``@exempt``, whatever ``RATELIMIT_DEFAULT`` says): a gate at a stadium's entrance
  must not be throttled, and a code can be used once anyway. What each may admit comes
  from ``qr.admission``. The answer holds the purpose, the reference and, for a
  person's code, the masked name and real-name level: nothing more. Every scan is recorded,
  rejected ones too (the record is committed before the error is sent).
"""
from __future__ import annotations

from flask import Response, request
from flask.views import MethodView

from app.api import Blueprint, ErrorSchema, Schema, fields
from app.context import current_clock
from app.db import get_session, single_statements, writes
from app.errors import ApiError
from app.idempotency import idempotent
from auth.principal import current_principal, require_auth, require_resident
from auth.ratelimit import exempt, rate_limit
from qr import render
from qr.admission import current_admission
from qr.holders import describe, holder_view
from qr.keys import current_keyring
from qr.service import IssuedCode, Scanner, Verified, issue_personal, verify
from qr.tokens import QrError

jwks_blp = Blueprint("qr_jwks", __name__, description="Public keys of the signed QR codes")
qr_blp = Blueprint("qr", __name__, url_prefix="/api/v1/qr",
                   description="Personal codes (随申码-style) and verification by devices and staff")

PERSON_HOLDER = "person"
IMAGE_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
MAX_TOKEN_INPUT = 4000  # well above any code of ours; the shape check refuses the rest


class JwkSchema(Schema):
    kty = fields.String(required=True, metadata={"example": "OKP"})
    crv = fields.String(required=True, metadata={"example": "Ed25519"})
    x = fields.String(required=True, metadata={"description": "base64url public key"})
    kid = fields.String(required=True, metadata={"description": "RFC 7638 thumbprint"})
    alg = fields.String(required=True, metadata={"example": "EdDSA"})
    use = fields.String(required=True, metadata={"example": "sig"})


class JwksSchema(Schema):
    keys = fields.List(fields.Nested(JwkSchema), required=True)


@jwks_blp.route("/.well-known/jwks.json")
class Jwks(MethodView):
    @jwks_blp.response(200, JwksSchema)
    @jwks_blp.alt_response(304, description="Not modified (If-None-Match matched the ETag)")
    def get(self):
        """The JWK set (RFC 7517) of the Ed25519 keys that sign QR codes, for offline checks."""
        keyring = current_keyring()
        body, etag = keyring.jwks()
        resp = Response(body, mimetype="application/json")
        resp.set_etag(etag)
        resp.cache_control.public = True
        resp.cache_control.max_age = keyring.config.jwks_max_age
        return resp.make_conditional(request)


# ---------------------------------------------------------------- personal codes


class PersonalCodeSchema(Schema):
    token = fields.String(required=True, metadata={"description": "compact JWS; single-use"})
    expires_at = fields.DateTime(required=True)
    refresh_after = fields.DateTime(required=True, metadata={
        "description": "ask for a new code from this time on (a quarter of its life, at least 10 s, is left)"})


class ImageArgs(Schema):
    format = fields.String(load_default="png", validate=fields.ma.validate.OneOf(sorted(IMAGE_TYPES)),
                           metadata={"description": "png (1-bit) or svg"})




def _issue_for_caller() -> IssuedCode:
    principal = current_principal()
    session = get_session()
    code = issue_personal(session, holder_type=PERSON_HOLDER, holder_id=principal.person_id, clock=current_clock(),
                          relaxed=True)
    session.commit()
    return code


@qr_blp.route("/personal")
class PersonalCode(MethodView):
    @single_statements
    @require_resident
    @rate_limit("qr_personal", shared=True)
    @qr_blp.response(200, PersonalCodeSchema)
    @qr_blp.alt_response(429, schema=ErrorSchema, description="rate_limited")
    @qr_blp.alt_response(503, schema=ErrorSchema, description="qr_no_signing_key")
    def post(self):
        """A fresh personal code for the calling resident: single-use, living
        ``QR_PERSONAL_TTL_SECONDS`` (60 s by default); its ``sub`` is a pseudonym of this code only."""
        code = _issue_for_caller()
        return {"token": code.token, "expires_at": code.expires_at, "refresh_after": code.refresh_after}


@qr_blp.route("/personal/image")
class PersonalCodeImage(MethodView):
    @writes
    @require_resident
    @rate_limit("qr_personal", shared=True)
    @qr_blp.arguments(ImageArgs, location="query")
    @qr_blp.response(200, content_type="image/png", description="The code as PNG or SVG (never cached).")
    @qr_blp.alt_response(429, schema=ErrorSchema, description="rate_limited")
    def get(self, args):
        """A fresh personal code drawn as an image (level M) a phone camera decodes to the token.
        ``X-QR-Expires-At`` and ``X-QR-Refresh-After`` say when to fetch the next one."""
        code = _issue_for_caller()
        if args["format"] == "svg":
            body: bytes | str = render.svg(code.token)
        else:
            body = render.png(code.token)
        resp = Response(body, mimetype=IMAGE_TYPES[args["format"]])
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-QR-Expires-At"] = fields.to_cst_iso(code.expires_at)
        resp.headers["X-QR-Refresh-After"] = fields.to_cst_iso(code.refresh_after)
        return resp


# ---------------------------------------------------------------- verification


class VerifyArgs(Schema):
    token = fields.String(required=True, validate=fields.ma.validate.Length(min=1, max=MAX_TOKEN_INPUT),
                          metadata={"description": "the scanned code (a compact JWS)"})


class HolderViewSchema(Schema):
    masked_name = fields.String(allow_none=True, metadata={"example": "张*"})
    real_name_level = fields.String(required=True, metadata={"description": "none | basic | verified"})


class VerifyResultSchema(Schema):
    result = fields.String(required=True, metadata={"example": "accepted"})
    kind = fields.String(required=True, metadata={"description": "personal | pass"})
    purpose = fields.String(required=True)
    ref = fields.String(allow_none=True, metadata={"description": "the pass's reference (a booking...)"})
    expires_at = fields.DateTime(required=True)
    holder = fields.Nested(HolderViewSchema, allow_none=True, metadata={
        "description": "for a person's code: the masked name and real-name level, nothing more"})


def scanner_and_purposes() -> tuple[Scanner, frozenset[str]]:
    """The calling device or staff member as a scanner, and the purposes it may admit;
    403 when it may admit none (a sensor, a meter)."""
    principal = current_principal()
    admission = current_admission()
    if principal.is_device:
        scanner = Scanner("device", principal.device_id)
        purposes = admission.for_device(principal.org_type, principal.device_kind)
    else:
        scanner = Scanner("staff", principal.account_id)
        purposes = admission.for_staff(principal.org_type)
    if not purposes:
        raise ApiError("forbidden", errors={"token": ["此设备或机构不核验二维码。"]})
    return scanner, purposes


def verified_answer(session, result: Verified) -> dict:
    holder = describe(holder_view(session, result.holder, result.holder_facts))
    return {"result": "accepted", "kind": result.kind, "purpose": result.purpose, "ref": result.ref,
            "expires_at": result.expires_at, "holder": holder}


@qr_blp.route("/verify")
class VerifyCode(MethodView):
    @single_statements
    @exempt
    @idempotent
    @qr_blp.doc(security=[{"deviceBasic": []}, {"bearerAuth": []}])
    @require_auth(kinds=("device", "staff"))
    @qr_blp.arguments(VerifyArgs)
    @qr_blp.response(200, VerifyResultSchema)
    @qr_blp.alt_response(409, schema=ErrorSchema, description="qr_replayed | qr_revoked")
    @qr_blp.alt_response(422, schema=ErrorSchema, description=(
        "qr_malformed | qr_invalid_signature | qr_unknown_key | qr_wrong_type | qr_expired | "
        "qr_not_yet_valid | qr_wrong_purpose"))
    def post(self, args):
        """Verify a scanned code for a device (HTTP Basic) or a staff member, and record the scan.

        What the caller may admit depends on its device kind or organisation type
        (``qr.admission``; ``QR_ADMISSION`` overrides). A single-use code is consumed.
        Rejections are recorded too."""
        scanner, purposes = scanner_and_purposes()
        session = get_session()
        try:
            result = verify(session, args["token"], clock=current_clock(), allowed_purposes=purposes, scanner=scanner,
                            relaxed=True)
        except QrError:
            session.commit()  # the rejected scan is kept
            raise
        answer = verified_answer(session, result)
        session.commit()
        return answer


def blueprints(settings) -> list[Blueprint]:
    return [jwks_blp, qr_blp]
