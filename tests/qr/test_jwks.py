"""GET /.well-known/jwks.json"""
from __future__ import annotations

import base64

from qr.keys import thumbprint
from qr.service import issue_personal
from tests.support.qr import parts


def test_jwks_lists_okp_keys_with_their_thumbprints(client, keyring):
    resp = client.get("/.well-known/jwks.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    (key,) = resp.get_json()["keys"]
    assert set(key) == {"kty", "crv", "x", "kid", "alg", "use"}
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    x = base64.urlsafe_b64decode(key["x"] + "=")
    assert len(x) == 32 and key["kid"] == thumbprint(x)
    assert "d" not in key  # never the private half


def test_jwks_is_cacheable_for_less_than_the_reload_period(client, keyring):
    resp = client.get("/.well-known/jwks.json")
    cc = resp.cache_control
    assert cc.public and 0 < cc.max_age < keyring.config.reload_seconds
    etag = resp.headers["ETag"]
    again = client.get("/.well-known/jwks.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert client.get("/.well-known/jwks.json", headers={"If-None-Match": '"other"'}).status_code == 200


def test_jwks_verifies_an_issued_code(client, session, clock, keyring):
    token = issue_personal(session, holder_type="person", holder_id=5, clock=clock, keyring=keyring).token
    kids = {k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]}
    assert parts(token)[0]["kid"] in kids


def test_jwks_is_in_the_spec(app):
    spec = app.extensions["api"].spec.to_dict()
    assert "/.well-known/jwks.json" in spec["paths"]
