"""Access tokens (typ, aud, iss, alg, exp, key) and refresh rotation with reuse detection."""
from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import sqlalchemy as sa

from auth.models import Account, RefreshToken
from auth.pii import derive_key
from auth.tokens import ALGORITHM, AUDIENCE, ISSUER, TOKEN_TYPE, token_config
from tests.support.factories import STAFF_PASSWORD, bearer, make_resident, token_for

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def login(client, openid: str = "tok-user") -> dict:
    r = client.post("/api/v1/auth/dev/login", json={"openid": openid})
    assert r.status_code == 200
    return r.get_json()


def me(client, token: str):
    return client.get("/api/v1/me", headers=bearer(token))


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def forge(claims: dict, key: bytes, *, alg: str = "HS256", typ: str = TOKEN_TYPE) -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"typ": typ})


def test_access_token_shape(client, app):
    body = login(client)
    header = jwt.get_unverified_header(body["access_token"])
    assert header == {"alg": ALGORITHM, "typ": TOKEN_TYPE}
    claims = claims_of(body["access_token"])
    assert claims["iss"] == ISSUER and claims["aud"] == AUDIENCE and claims["knd"] == "resident"
    assert claims["exp"] - claims["iat"] == 15 * 60 and len(claims["jti"]) == 32
    assert claims["sub"] == str(body["resident"]["account_id"]) and claims["pid"] == body["resident"]["id"]
    assert body["refresh_token"].startswith("rt_") and len(body["refresh_token"]) > 40
    # The signing key is derived for this purpose: not SECRET_KEY itself.
    secret = app.extensions["settings"].secret_key.encode()
    try:
        jwt.decode(body["access_token"], secret, algorithms=["HS256"], audience=AUDIENCE)
        raise AssertionError("signed with SECRET_KEY directly")
    except jwt.InvalidSignatureError:
        pass


def test_no_token_and_garbage(client):
    r = client.get("/api/v1/me")
    assert r.status_code == 401 and r.get_json()["code"] == "unauthenticated"
    assert "Bearer" in r.headers["WWW-Authenticate"]
    for header in ("Bearer", "Bearer abc", "Bearer a.b.c", "Token xyz", "Bearer " + "A" * 5000):
        r = client.get("/api/v1/me", headers={"Authorization": header})
        assert r.status_code == 401 and r.get_json()["code"] == "token_invalid", header


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_refused_tokens(client, app):
    body = login(client)
    good = claims_of(body["access_token"])
    with app.app_context():
        key = token_config().key
    cases = {
        "alg none": jwt.encode(good, None, algorithm="none", headers={"typ": TOKEN_TYPE}),
        "other key": forge(good, derive_key("another secret", "jinshan access token v1")),
        "HS512": forge(good, key, alg="HS512"),
        "typ JWT": forge(good, key, typ="JWT"),
        "typ of a QR token": forge(good, key, typ="jinshan-qr+jwt"),
        "other audience": forge({**good, "aud": "jinshan-qr"}, key),
        "other issuer": forge({**good, "iss": "someone"}, key),
        "no jti": forge({k: v for k, v in good.items() if k != "jti"}, key),
        "no sid": forge({k: v for k, v in good.items() if k != "sid"}, key),
        "issued in the future": forge({**good, "iat": good["iat"] + 3600, "exp": good["exp"] + 3600}, key),
        "bad kind": forge({**good, "knd": "admin"}, key),
        "non-numeric sub": forge({**good, "sub": "x"}, key),
    }
    for name, token in cases.items():
        r = me(client, token)
        assert r.status_code == 401 and r.get_json()["code"] == "token_invalid", name
    # The same claims with the right key and header are accepted (so the cases above fail for their reason).
    assert me(client, forge(good, key)).status_code == 200


def test_hand_made_alg_none_token(client):
    good = claims_of(login(client)["access_token"])

    def seg(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    token = f"{seg({'alg': 'none', 'typ': TOKEN_TYPE})}.{seg(good)}."
    assert me(client, token).get_json()["code"] == "token_invalid"


def test_expiry_follows_the_clock(client, clock):
    token = login(client)["access_token"]
    clock.advance(minutes=14)
    assert me(client, token).status_code == 200
    clock.advance(minutes=2)
    r = me(client, token)
    assert r.status_code == 401 and r.get_json()["code"] == "token_expired"


def test_refresh_rotates(client, session):
    body = login(client)
    assert body["expires_in"] == 15 * 60 and body["token_type"] == "Bearer"
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert r.status_code == 200
    new = r.get_json()
    assert new["refresh_token"] != body["refresh_token"] and new["access_token"] != body["access_token"]
    assert new["expires_in"] == 15 * 60
    assert claims_of(new["access_token"])["sid"] == claims_of(body["access_token"])["sid"]
    assert me(client, new["access_token"]).status_code == 200
    rows = session.scalars(sa.select(RefreshToken).where(
        RefreshToken.family_id == claims_of(body["access_token"])["sid"]).order_by(RefreshToken.id)).all()
    assert len(rows) == 2 and rows[0].rotated_at is not None and rows[1].rotated_at is None
    assert all(body["refresh_token"] not in (r.token_hash or "") for r in rows)  # stored hashed


def test_reusing_a_rotated_refresh_token_revokes_the_family(client, session):
    body = login(client)
    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}).get_json()
    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert replay.status_code == 401 and replay.get_json()["code"] == "refresh_token_reused"
    # The thief's and the owner's newest tokens are all dead now.
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert r.status_code == 401 and r.get_json()["code"] == "refresh_token_invalid"
    r = me(client, rotated["access_token"])
    assert r.status_code == 401 and r.get_json()["code"] == "token_revoked"
    session.expire_all()
    sid = claims_of(body["access_token"])["sid"]
    assert all(t.revoked_reason == "reuse" for t in session.scalars(
        sa.select(RefreshToken).where(RefreshToken.family_id == sid)))
    # Another login (another family) is unaffected.
    assert me(client, login(client)["access_token"]).status_code == 200


def test_refresh_errors(client, clock):
    for token in ("", "rt_unknown", "x" * 300, "garbage"):
        r = client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert r.status_code in (401, 422), token
        assert r.get_json()["code"] in ("refresh_token_invalid", "validation_error")
    body = login(client)
    clock.advance(days=31)
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert r.status_code == 401 and r.get_json()["code"] == "refresh_token_invalid"


def test_refresh_token_of_another_account(client):
    alice, bob = login(client, "alice"), login(client, "bob")
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": bob["refresh_token"]},
                    headers=bearer(alice["access_token"]))
    assert r.status_code == 403 and r.get_json()["code"] == "refresh_token_mismatch"
    r = client.post("/api/v1/auth/logout", json={"refresh_token": bob["refresh_token"]},
                    headers=bearer(alice["access_token"]))
    assert r.status_code == 403 and r.get_json()["code"] == "refresh_token_mismatch"
    # Neither was consumed or revoked.
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": bob["refresh_token"]}).status_code == 200
    assert me(client, alice["access_token"]).status_code == 200


def test_logout_revokes(client):
    body = login(client)
    assert client.post("/api/v1/auth/logout", json={}, headers=bearer(body["access_token"])).status_code == 204
    r = me(client, body["access_token"])
    assert r.status_code == 401 and r.get_json()["code"] == "token_revoked"
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert r.get_json()["code"] == "refresh_token_invalid"
    # With only the refresh token (the access token already expired).
    other = login(client, "other")
    assert client.post("/api/v1/auth/logout", json={"refresh_token": other["refresh_token"]}).status_code == 204
    assert me(client, other["access_token"]).status_code == 401
    assert client.post("/api/v1/auth/logout", json={}).status_code == 401


def test_disabled_account_token_stops_working(client, session):
    body = login(client, "to-disable")
    session.execute(sa.update(Account).where(Account.id == body["resident"]["account_id"]).values(status="disabled"))
    session.commit()
    assert me(client, body["access_token"]).get_json()["code"] == "token_revoked"
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert r.status_code == 401


def test_staff_token_cannot_be_used_as_resident(client, session, clock):
    from tests.support.factories import make_org, make_staff, token_for

    org = make_org(session, "property_company")
    account = make_staff(session, org, "manager")
    resident = make_resident(session)
    session.commit()
    staff_token = token_for(session, clock, account, org)
    assert claims_of(staff_token)["org"] == org.code and "pid" not in claims_of(staff_token)
    r = me(client, staff_token)
    assert r.status_code == 403 and r.get_json()["code"] == "forbidden"
    r = client.get("/api/v1/auth/staff/me", headers=bearer(token_for(session, clock, resident)))
    assert r.status_code == 403


def test_tokens_are_unique(client):
    jtis = {claims_of(login(client, f"u{uuid.uuid4().hex[:6]}")["access_token"])["jti"] for _ in range(5)}
    assert len(jtis) == 5


def test_signature_cache_keeps_every_check(client, app, clock):
    """The per-process cache of checked signatures: a token accepted once is still refused
    under another key, its tampered copies are refused, and its claims cannot be changed
    through a decoded copy."""
    from auth.tokens import TokenConfig, decode_access

    token = login(client, "cache-user")["access_token"]
    assert me(client, token).status_code == 200  # now cached
    with app.app_context():
        cfg = token_config()
        claims = decode_access(token, clock=clock, cfg=cfg)
        original = claims["sub"]
        claims["sub"] = "999999"  # a caller changing its copy changes nothing cached
        assert decode_access(token, clock=clock, cfg=cfg)["sub"] == original
        other = TokenConfig(key=derive_key("another secret", "jinshan access token v1"),
                            access_ttl=cfg.access_ttl, refresh_ttl=cfg.refresh_ttl)
        with pytest.raises(Exception) as err:
            decode_access(token, clock=clock, cfg=other)
        assert getattr(err.value, "code", None) == "token_invalid"
    head, payload, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    for bad in (f"{head}.{payload}.{flipped}", token + "=", f"{head}.{payload}X.{sig}"):
        r = me(client, bad)
        assert r.status_code == 401 and r.get_json()["code"] == "token_invalid", bad


# ---------------------------------------------------------------- edges found by mutation testing (bench/MUTANTS.md)


def refresh(client, token: str):
    return client.post("/api/v1/auth/refresh", json={"refresh_token": token})


def test_access_token_accepted_to_the_end_of_the_leeway_and_not_a_second_more(client, clock):
    """``exp`` plus the 30 s leeway is the last moment; ``iat`` may be up to 30 s ahead."""
    from auth.tokens import LEEWAY

    body = login(client, "leeway-user")
    exp = claims_of(body["access_token"])["exp"]
    clock.set(datetime.fromtimestamp(exp, UTC) + LEEWAY - timedelta(seconds=1))
    assert me(client, body["access_token"]).status_code == 200
    clock.advance(seconds=1)
    r = me(client, body["access_token"])
    assert r.status_code == 401 and r.get_json()["code"] == "token_expired"


def test_access_token_issued_up_to_the_leeway_ahead_is_accepted(client, clock, session):
    from auth.tokens import LEEWAY

    account = make_resident(session)
    session.commit()
    issued_at = clock.now()
    ahead = token_for(session, clock, account)
    session.commit()
    clock.set(issued_at - LEEWAY)  # the server that checks it is LEEWAY behind the one that issued it
    assert me(client, ahead).status_code == 200
    clock.advance(seconds=-1)
    assert me(client, ahead).status_code == 401


def test_refresh_token_valid_until_just_before_its_expiry(client, clock, session):
    body = login(client, "rt-expiry")
    sid = claims_of(body["access_token"])["sid"]
    row = session.scalar(sa.select(RefreshToken).where(RefreshToken.family_id == sid))
    clock.set(row.expires_at - timedelta(seconds=1))
    rotated = refresh(client, body["refresh_token"])
    assert rotated.status_code == 200
    new_row = session.scalar(sa.select(RefreshToken).where(RefreshToken.rotated_at.is_(None),
                                                           RefreshToken.family_id == row.family_id))
    clock.set(new_row.expires_at)
    r = refresh(client, rotated.get_json()["refresh_token"])
    assert r.status_code == 401 and r.get_json()["code"] == "refresh_token_invalid"  # expired at exactly its end


def test_a_reuse_revokes_only_its_family_and_keeps_the_first_revocation(client, clock, session):
    """Another session of the same person, signed in before, lives on; a rotated token
    presented again after its family was revoked is still reported as a reuse, and the
    family's revocation (time, reason) is not rewritten by it."""
    other = login(client, "reuse-scope")
    body = login(client, "reuse-scope")
    refresh(client, body["refresh_token"])
    first = refresh(client, body["refresh_token"])
    assert first.get_json()["code"] == "refresh_token_reused"
    sid = claims_of(body["access_token"])["sid"]
    session.expire_all()
    revoked = {t.id: (t.revoked_at, t.revoked_reason) for t in session.scalars(
        sa.select(RefreshToken).where(RefreshToken.family_id == sid))}
    assert revoked and all(reason == "reuse" for _, reason in revoked.values())
    clock.advance(minutes=5)
    again = refresh(client, body["refresh_token"])
    assert again.status_code == 401 and again.get_json()["code"] == "refresh_token_reused"
    session.expire_all()
    assert {t.id: (t.revoked_at, t.revoked_reason) for t in session.scalars(
        sa.select(RefreshToken).where(RefreshToken.family_id == sid))} == revoked
    assert me(client, other["access_token"]).status_code == 200
    assert refresh(client, other["refresh_token"]).status_code == 200


def test_refresh_of_a_disabled_account_revokes_its_family_as_inactive(client, session):
    body = login(client, "to-disable-2")
    session.execute(sa.update(Account).where(Account.id == body["resident"]["account_id"]).values(status="disabled"))
    session.commit()
    r = refresh(client, body["refresh_token"])
    assert r.status_code == 401 and r.get_json()["code"] == "refresh_token_invalid"
    session.expire_all()
    rows = session.scalars(sa.select(RefreshToken).where(
        RefreshToken.family_id == claims_of(body["access_token"])["sid"])).all()
    assert rows and all(t.revoked_at is not None and t.revoked_reason == "account_inactive" for t in rows)


def test_a_staff_refresh_keeps_the_acting_organisation(client, session):
    from auth.models import Membership
    from tests.support.factories import make_org, make_staff

    org = make_org(session, "property_company")
    make_staff(session, org, "manager", username="refresh.mgr")
    session.commit()
    body = client.post("/api/v1/auth/staff/login", json={"username": "refresh.mgr",
                                                          "password": STAFF_PASSWORD}).get_json()
    assert "refresh_token" in body, body
    r = refresh(client, body["refresh_token"])
    assert r.status_code == 200
    new = r.get_json()
    assert claims_of(new["access_token"])["org"] == org.code
    assert client.get("/api/v1/auth/staff/me", headers=bearer(new["access_token"])).status_code == 200
    rows = session.scalars(sa.select(RefreshToken).where(
        RefreshToken.family_id == claims_of(body["access_token"])["sid"])).all()
    assert len(rows) == 2 and {t.organisation_id for t in rows} == {org.id}

    # A membership ended behind the services' back (no revocation): the refresh says so.
    session.execute(sa.update(Membership).where(Membership.organisation_id == org.id).values(status="disabled"))
    session.commit()
    r = refresh(client, new["refresh_token"])
    assert r.status_code == 403 and r.get_json()["code"] == "not_a_member"
    session.expire_all()
    assert all(t.revoked_reason == "membership_ended" for t in session.scalars(
        sa.select(RefreshToken).where(RefreshToken.family_id == claims_of(body["access_token"])["sid"])))


def test_token_lifetimes_come_from_the_settings_with_their_defaults(settings):
    """``ACCESS_TOKEN_MINUTES`` and ``REFRESH_TOKEN_DAYS`` are read (an empty value is the
    default), and the access key is derived from the secret key under its own label."""
    from dataclasses import replace

    from auth.tokens import TokenConfig

    default = TokenConfig.from_settings(replace(settings, extra={}))
    assert (default.access_ttl, default.refresh_ttl) == (timedelta(minutes=15), timedelta(days=30))
    empty = TokenConfig.from_settings(replace(settings, extra={"ACCESS_TOKEN_MINUTES": "", "REFRESH_TOKEN_DAYS": ""}))
    assert (empty.access_ttl, empty.refresh_ttl) == (timedelta(minutes=15), timedelta(days=30))
    set_ = TokenConfig.from_settings(replace(settings, extra={"ACCESS_TOKEN_MINUTES": "5", "REFRESH_TOKEN_DAYS": "2"}))
    assert (set_.access_ttl, set_.refresh_ttl) == (timedelta(minutes=5), timedelta(days=2))
    # The label keeps the access-token key apart from every other key derived from the secret.
    assert default.key == derive_key(settings.secret_key, "jinshan access token v1")
