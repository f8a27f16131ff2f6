"""The console's shell: sign-in through the API's staff login, the session cookie, CSRF,
logout and replay, a disabled member out at once, the CSP, the 404 page."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from auth.models import Membership
from tests.support.console import csrf, post, sign_in

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def test_signing_in_opens_a_session_cookie_and_the_home_page(client, wf):
    resp = sign_in(client, wf.accounts["manager_a"].username)
    assert resp.headers["Location"].endswith("/console/")
    cookie = resp.headers["Set-Cookie"]
    assert "jinshan_console=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/console" in cookie
    page = client.get("/console/")
    assert page.status_code == 200 and "工作台" in page.get_data(as_text=True)


def test_anonymous_pages_redirect_to_sign_in_with_next(client, wf):
    resp = client.get("/console/w/wf-test/queue")
    assert resp.status_code == 302 and "/console/login?next=/console/w/wf-test/queue" in resp.headers["Location"]


def test_wrong_password_is_the_apis_401_with_its_message(client, wf):
    resp = sign_in(client, wf.accounts["manager_a"].username, "wrong password", expect=401)
    assert "用户名或密码错误" in resp.get_data(as_text=True)
    assert client.get("/console/").status_code == 302


def test_throttling_is_the_apis_own(client, wf, app):
    name = wf.accounts["manager_a"].username
    for _ in range(3):  # the free failures
        sign_in(client, name, "wrong password", expect=401)
    locked = sign_in(client, name, expect=429)  # the right password during the wait: refused unchecked
    assert "登录失败次数过多" in locked.get_data(as_text=True) and locked.headers["Retry-After"]
    assert client.get("/console/").status_code == 302


def test_several_organisations_ask_which_one(client, wf, session):
    account = wf.accounts["manager_a"]
    session.add(Membership(account_id=account.id, organisation_id=wf.world.companies[1].id, role="manager",
                           status="active"))
    session.commit()
    page = sign_in(client, account.username, expect=409).get_data(as_text=True)
    assert "代表的机构" in page and wf.world.companies[1].code in page
    sign_in(client, account.username, org=wf.world.companies[1].code)
    assert wf.world.companies[1].code in client.get("/console/").get_data(as_text=True)


def test_a_post_without_the_csrf_token_is_refused(client, wf):
    sign_in(client, wf.accounts["manager_a"].username)
    resp = client.post("/console/logout", data={})
    assert resp.status_code == 400 and "页面已过期" in resp.get_data(as_text=True)
    forged = client.post("/console/logout", data={"csrf_token": "forged." + csrf(client, "/console/")[7:]})
    assert forged.status_code == 400
    assert client.get("/console/").status_code == 200  # still signed in: nothing was done


def test_login_itself_needs_the_csrf_token(client, wf):
    resp = client.post("/console/login", data={"username": wf.accounts["manager_a"].username,
                                               "password": "correct horse battery"})
    assert resp.status_code == 400


def test_a_session_replayed_after_logout_is_refused(client, wf, app):
    sign_in(client, wf.accounts["manager_a"].username)
    cookie = client.get_cookie("jinshan_console", path="/console")
    assert cookie is not None
    saved = cookie.value
    assert post(client, "/console/logout").status_code == 302
    assert client.get("/console/").status_code == 302
    replay = app.test_client()
    replay.set_cookie("jinshan_console", saved, path="/console")
    resp = replay.get("/console/")
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]


def test_a_disabled_member_is_out_at_the_next_request(client, wf, session):
    sign_in(client, wf.accounts["manager_a"].username)
    assert client.get("/console/").status_code == 200
    session.execute(sa.update(Membership).where(Membership.account_id == wf.id("manager_a"))
                    .values(status="disabled"))
    session.commit()
    assert client.get("/console/").status_code == 302


def test_pages_carry_a_csp_without_unsafe_inline(client, wf):
    for resp in (client.get("/console/login"), client.get("/console/static/console.css")):
        policy = resp.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in policy and "script-src 'self'" in policy
        assert resp.headers["X-Frame-Options"] == "DENY"
    assert client.get("/console/login").headers["Cache-Control"] == "no-store"
    page = client.get("/console/login").get_data(as_text=True)
    assert "<script>" not in page and " style=" not in page and "onclick" not in page


def test_an_unknown_console_url_is_the_404_page(client, wf):
    resp = client.get("/console/no/such/page")
    assert resp.status_code == 404 and "页面不存在" in resp.get_data(as_text=True)
    assert resp.mimetype == "text/html"


def test_an_open_redirect_is_not_followed(client, wf):
    token = csrf(client)
    resp = client.post("/console/login", data={"username": wf.accounts["manager_a"].username,
                                               "password": "correct horse battery", "csrf_token": token,
                                               "next": "https://evil.example/console/"})
    assert resp.headers["Location"].endswith("/console/")


def test_the_api_still_sets_no_cookie(client, wf):
    resp = client.get("/healthz")
    assert "Set-Cookie" not in resp.headers


def test_the_district_admin_reads_worker_health_and_undeliverable_notices(client, wf):
    sign_in(client, wf.accounts["manager_a"].username)
    assert client.get("/console/admin/health").status_code == 403
    sign_in(client, wf.accounts["admin"].username)
    page = client.get("/console/admin/health?days=3").get_data(as_text=True)
    assert "最久逾期的定时器" in page and "最近 3 天" in page
    assert client.get("/console/admin/health?days=400").status_code == 422


@pytest.mark.parametrize(("env", "secure"), [("production", True), ("development", False), ("test", False)])
def test_the_cookie_is_secure_outside_development_and_test(env, secure):
    from types import SimpleNamespace

    from flask import Flask

    from app.console import install

    bare = Flask("console-cookie")
    bare.extensions["settings"] = SimpleNamespace(app_env=env)
    install(bare, [])
    assert bare.config["SESSION_COOKIE_SECURE"] is secure
    assert bare.config["SESSION_COOKIE_HTTPONLY"] and bare.config["SESSION_COOKIE_SAMESITE"] == "Lax"
