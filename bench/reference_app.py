"""The bench's reference: a bare Flask app doing only the essential work, the limit of this
stack on this machine. ``make bench`` runs it under the same gunicorn settings as the app, in
the same rounds, and reports every row's ratio to it.

- ``GET /healthz``: the same JSON as ours, nothing else.
- ``POST /verify {"token"}``: what a scan cannot do without — PyJWT's EdDSA decode of a
  personal code (against the app's published key, ``REFERENCE_JWKS``) and one insert of its
  token id into ``qr_used_jti`` (PostgreSQL in autocommit with ``synchronous_commit = off``,
  as our scans commit); 409 when it was used.
- ``POST /personal``: what issuing a code cannot do without — an EdDSA signature of the same
  claims and one insert of its pseudonym into ``qr_subjects``.

No authentication, no rate limits, no logging, no ORM: psycopg 3 (or sqlite3) alone, one
connection per process. ``REFERENCE_DATABASE_URL`` names the bench database.
"""
from __future__ import annotations

import os
import secrets
import sqlite3
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, jsonify, request

app = Flask(__name__)
_SIGNING_KEY = Ed25519PrivateKey.generate()
_state: dict[str, Any] = {}

USED = "INSERT INTO qr_used_jti (jti, used_at, expires_at) VALUES ({p}, {now}, {exp}) ON CONFLICT (jti) DO NOTHING"
SUBJECT = ("INSERT INTO qr_subjects (sub, holder_type, holder_id, expires_at) "
           "VALUES ({p}, 'person', 0, {exp})")


def _connection() -> Any:
    """One connection per process (gunicorn's sync workers serve one request at a time)."""
    conn = _state.get("conn")
    if conn is None:
        url = os.environ["REFERENCE_DATABASE_URL"]
        if url.startswith("sqlite"):
            conn = sqlite3.connect(url.split("///", 1)[1], isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
            _state["sql"] = {"used": USED.format(p="?", now="datetime('now')", exp="?"),
                             "subject": SUBJECT.format(p="?", exp="?")}
        else:
            import psycopg

            conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
            conn.execute("SET synchronous_commit TO off")
            _state["sql"] = {"used": USED.format(p="%s", now="now()", exp="to_timestamp(%s)") + " RETURNING jti",
                             "subject": SUBJECT.format(p="%s", exp="to_timestamp(%s)")}
        _state["conn"] = conn
    return conn


def _public_keys() -> jwt.PyJWKSet:
    keys = _state.get("jwks")
    if keys is None:
        keys = _state["jwks"] = jwt.PyJWKSet.from_json(os.environ["REFERENCE_JWKS"])
    return keys


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")


@app.post("/verify")
def verify():
    token = request.get_json()["token"]
    kid = jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(token, _public_keys()[kid].key, algorithms=["EdDSA"],
                        options={"verify_aud": False, "require": ["exp", "iat", "jti", "sub"]})
    conn = _connection()
    cur = conn.execute(_state["sql"]["used"], (claims["jti"], claims["exp"]))
    fresh = cur.rowcount == 1
    return jsonify(accepted=fresh), 200 if fresh else 409


@app.post("/personal")
def personal():
    now = int(time.time())
    sub = secrets.token_urlsafe(16)
    claims = {"iss": "jinshan-qr", "sub": sub, "iat": now, "exp": now + 60, "jti": secrets.token_urlsafe(16),
              "pur": "personal"}
    token = jwt.encode(claims, _SIGNING_KEY, algorithm="EdDSA", headers={"kid": "reference", "typ": "jinshan-qr+jwt"})
    _connection().execute(_state["sql"]["subject"], (sub, now + 60))
    return jsonify(token=token, expires_in=60), 201
