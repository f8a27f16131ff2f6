"""``GET /.well-known/jwks.json``: the public keys that verify our QR codes.

Cached by clients for less than the keyring's reload period (``max-age`` is half of it), with
an ETag so a revalidation costs a 304. New keys are published a while before they sign
(see ``qr.keys``), so a verifier that respects ``max-age`` never meets an unknown kid.
"""
from __future__ import annotations

from flask import Response, request
from flask.views import MethodView

from app.api import Blueprint, Schema, fields
from qr.keys import current_keyring

jwks_blp = Blueprint("qr_jwks", __name__, description="Public keys of the signed QR codes")


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


def blueprints(settings) -> list[Blueprint]:
    return [jwks_blp]
