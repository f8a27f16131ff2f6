"""Resident logins against a local server speaking WeChat's and 随申办's protocols."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from auth.models import Account, Person, PersonRelation, Residence
from tests.support.factories import bearer, count, id_number, make_resident, place_world, token_for

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def wx_login(client, code: str):
    return client.post("/api/v1/auth/wechat/login", json={"code": code})


def ssb_login(client, code: str, token: str | None = None):
    return client.post("/api/v1/auth/suishenban/login", json={"code": code}, headers=bearer(token) if token else {})


# ---------------------------------------------------------------- WeChat


def test_wechat_login_creates_account_and_person_then_finds_them(client, session, providers):
    code = providers.wechat_code(openid="o-alice")
    r = wx_login(client, code)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(body) == {"access_token", "refresh_token", "expires_in", "token_type", "resident"}
    assert body["expires_in"] == 15 * 60 and body["token_type"] == "Bearer"
    assert body["resident"]["real_name_level"] == "none" and body["resident"]["login_methods"] == ["wechat"]
    assert "session_key" not in r.get_data(as_text=True)
    me = client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.get_json()["id"] == body["resident"]["id"]

    again = wx_login(client, providers.wechat_code(openid="o-alice")).get_json()
    assert again["resident"]["id"] == body["resident"]["id"]
    assert count(session, Account, Account.openid == "o-alice") == 1
    stored = session.scalar(sa.select(Account).where(Account.openid == "o-alice"))
    assert stored.wechat_session_key  # kept server-side, encrypted (see test_auth_pii)


def test_wechat_unionid_joins_the_same_person(client, providers):
    a = wx_login(client, providers.wechat_code(openid="o-app1", unionid="u-same")).get_json()
    b = wx_login(client, providers.wechat_code(openid="o-app2", unionid="u-same")).get_json()
    assert a["resident"]["id"] == b["resident"]["id"]


def test_wechat_code_reused_is_401(client, providers):
    code = providers.wechat_code()
    assert wx_login(client, code).status_code == 200
    r = wx_login(client, code)
    assert r.status_code == 401 and r.get_json()["code"] == "wechat_code_invalid"
    assert "code" in r.get_json()["errors"]


def test_wechat_error_mapping(client, providers):
    expected = {
        "wx-err-40029": (401, "wechat_code_invalid"),
        "wx-err-40163": (401, "wechat_code_invalid"),
        "wx-err-45011": (429, "rate_limited"),
        "wx-err-40226": (403, "wechat_user_blocked"),
        "wx-err--1": (503, "wechat_unavailable"),
        "wx-err-40013": (503, "wechat_unavailable"),
        "unknown-code": (401, "wechat_code_invalid"),
    }
    for code, (status, err) in expected.items():
        r = wx_login(client, code)
        assert (r.status_code, r.get_json()["code"]) == (status, err), code
        if status == 503:
            assert r.headers["Retry-After"] == "5"
        if status == 429:
            assert int(r.headers["Retry-After"]) > 0


def test_wechat_timeout_is_503_with_retry_after(client, providers):
    started = time.monotonic()
    r = wx_login(client, "slow")
    elapsed = time.monotonic() - started
    assert r.status_code == 503 and r.get_json()["code"] == "wechat_unavailable"
    assert r.headers["Retry-After"] == "5"
    assert elapsed < 1.2  # the client's 0.4 s timeout, not the server's 1.5 s answer


def test_wechat_unreachable_or_unconfigured_is_503(client, settings_override):
    settings_override(WECHAT_API_BASE="http://127.0.0.1:9", WECHAT_APPID="a", WECHAT_SECRET="b")
    r = wx_login(client, "any")
    assert r.status_code == 503 and r.get_json()["code"] == "wechat_unavailable"
    settings_override(WECHAT_APPID="")
    assert wx_login(client, "any").status_code == 503


def test_wechat_login_rejects_bad_input(client, providers):
    assert wx_login(client, "").status_code == 422
    assert client.post("/api/v1/auth/wechat/login", json={}).get_json()["code"] == "validation_error"
    assert client.post("/api/v1/auth/wechat/login", data="code=x").status_code == 415


def test_disabled_account_cannot_log_in(client, ctx, session, providers):
    account = make_resident(session, openid="o-disabled")
    account.status = "disabled"
    session.commit()
    r = wx_login(client, providers.wechat_code(openid="o-disabled"))
    assert r.status_code == 403 and r.get_json()["code"] == "account_disabled"


def test_stale_token_does_not_break_login(client, providers):
    r = client.post("/api/v1/auth/wechat/login", json={"code": providers.wechat_code()},
                    headers=bearer("not-a-token"))
    assert r.status_code == 200


# ---------------------------------------------------------------- dev login


def test_dev_login_creates_demo_resident(client):
    r = client.post("/api/v1/auth/dev/login", json={"openid": "demo-resident-1"})
    assert r.status_code == 200
    body = r.get_json()
    assert body["resident"]["login_methods"] == ["dev"]
    again = client.post("/api/v1/auth/dev/login", json={"openid": "demo-resident-1"}).get_json()
    assert again["resident"]["id"] == body["resident"]["id"]


def test_dev_login_absent_outside_development(app, db, clock):
    from app import create_app
    from app.config import load_settings

    prod_like = create_app(load_settings({
        "APP_ENV": "test", "DATABASE_URL": app.extensions["settings"].database_url, "ENABLE_DEV_ROUTES": "0"}),
        database=db, clock=clock)
    r = prod_like.test_client().post("/api/v1/auth/dev/login", json={"openid": "x"})
    assert r.status_code == 404 and r.get_json()["code"] == "not_found"
    assert "/api/v1/auth/dev/login" not in prod_like.extensions["api"].spec.to_dict()["paths"]


# ---------------------------------------------------------------- 随申办


def test_suishenban_login_makes_a_verified_person(client, session, providers):
    idn = id_number("19500101")
    code = providers.suishenban_code(name="张三", id_number=idn, mobile="18012341999")
    r = ssb_login(client, code)
    assert r.status_code == 200, r.get_json()
    resident = r.get_json()["resident"]
    assert resident["real_name_level"] == "verified"
    assert resident["name"] == "张*" and resident["phone"] == "180****1999"
    assert resident["id_number"] == idn[0] + "*" * 15 + idn[-2:]
    assert resident["birth_date"] == "1950-01-01"
    assert resident["login_methods"] == ["suishenban"]


def test_suishenban_upgrades_and_merges_with_the_wechat_person(client, ctx, session, clock, providers):
    """A WeChat resident logs in with 随申办; a person already holding that ID (added as a
    relative by someone else) is merged into the resident's person."""
    idn = id_number("19600101")
    wechat = wx_login(client, providers.wechat_code(openid="o-bob")).get_json()
    placeholder = Person(name="李四", real_name_level="basic")
    placeholder.set_id_number(idn)
    session.add(placeholder)
    guardian = make_resident(session, name="李小四", id_no=id_number("19900101"))
    session.flush()
    session.add(PersonRelation(from_person_id=guardian.person_id, to_person_id=placeholder.id, kind="family",
                               allows=["book_medical"], created_at=clock.now()))
    session.commit()
    placeholder_id = placeholder.id

    r = ssb_login(client, providers.suishenban_code(name="李四", id_number=idn), token=wechat["access_token"])
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["resident"]["id"] == wechat["resident"]["id"]
    assert body["resident"]["login_methods"] == ["suishenban", "wechat"]
    session.expire_all()
    merged = session.get(Person, placeholder_id)
    assert merged.merged_into_id == wechat["resident"]["id"] and merged.anonymised_at is not None
    assert merged.id_number is None and merged.name is None
    rel = session.scalar(sa.select(PersonRelation).where(PersonRelation.from_person_id == guardian.person_id))
    assert rel.to_person_id == wechat["resident"]["id"]
    # The WeChat token still works and now sees the verified person.
    me = client.get("/api/v1/me", headers=bearer(wechat["access_token"])).get_json()
    assert me["real_name_level"] == "verified" and me["name"] == "李*"


def test_suishenban_second_login_finds_the_same_person(client, providers):
    idn = id_number()
    first = ssb_login(client, providers.suishenban_code(name="王五", id_number=idn, sub="sub-1")).get_json()
    second = ssb_login(client, providers.suishenban_code(name="王五", id_number=idn, sub="sub-1")).get_json()
    assert first["resident"]["id"] == second["resident"]["id"]


def test_suishenban_identity_conflict(client, providers):
    wechat = wx_login(client, providers.wechat_code()).get_json()
    assert ssb_login(client, providers.suishenban_code(name="甲", id_number=id_number()),
                     token=wechat["access_token"]).status_code == 200
    r = ssb_login(client, providers.suishenban_code(name="乙", id_number=id_number()), token=wechat["access_token"])
    assert r.status_code == 409 and r.get_json()["code"] == "identity_conflict"


def test_suishenban_error_mapping(client, providers, settings_override):
    code = providers.suishenban_code(name="甲", id_number=id_number())
    assert ssb_login(client, code).status_code == 200
    reused = ssb_login(client, code)
    assert reused.status_code == 401 and reused.get_json()["code"] == "suishenban_code_invalid"
    assert ssb_login(client, "never-issued").get_json()["code"] == "suishenban_code_invalid"
    limited = ssb_login(client, "ssb-err-429")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "30"
    down = ssb_login(client, "ssb-err-500")
    assert down.status_code == 503 and down.get_json()["code"] == "suishenban_unavailable"
    assert down.headers["Retry-After"] == "5"
    unverified = ssb_login(client, providers.suishenban_code(name="丙", id_number=id_number(), verified=False))
    assert unverified.status_code == 403 and unverified.get_json()["code"] == "suishenban_not_verified"
    bad_id = ssb_login(client, providers.suishenban_code(name="丁", id_number="310116198001011230"))
    assert bad_id.status_code == 503
    settings_override(SUISHENBAN_CLIENT_SECRET="wrong")
    wrong_client = ssb_login(client, providers.suishenban_code(name="戊", id_number=id_number()))
    assert wrong_client.status_code == 503 and wrong_client.get_json()["code"] == "suishenban_unavailable"


def test_suishenban_timeout(client, providers):
    started = time.monotonic()
    r = ssb_login(client, "slow")
    assert r.status_code == 503 and r.get_json()["code"] == "suishenban_unavailable"
    assert time.monotonic() - started < 1.2


def test_suishenban_unconfigured_is_503(client):
    r = ssb_login(client, "x")
    assert r.status_code == 503 and r.get_json()["code"] == "suishenban_unavailable"


def test_merge_moves_residences(client, ctx, session, clock, providers):
    """Residences of a person found to be the caller follow the merge."""
    world = place_world(session)
    idn = id_number()
    other = make_resident(session, name="孙七", id_no=idn)
    session.add(Residence(person_id=other.person_id, community_id=world.community.id,
                          building_id=world.community.buildings[0].id, room="101",
                          valid_from=clock.now().date(), status="verified"))
    session.commit()
    wechat = make_resident(session)
    session.commit()
    r = ssb_login(client, providers.suishenban_code(name="孙七", id_number=idn),
                  token=token_for(session, clock, wechat))
    assert r.status_code == 200
    session.expire_all()
    assert count(session, Residence, Residence.person_id == wechat.person_id) == 1
    # The other WeChat account of that person now logs in to the merged person too.
    assert session.get(Account, other.id).person_id == wechat.person_id
