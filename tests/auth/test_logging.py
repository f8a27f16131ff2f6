"""No personal data in logs: logins, /me and failures log neither phone, ID number, codes,
passwords nor tokens — checked on the raw records, before the log scrubber."""
from __future__ import annotations

import logging

import pytest

from app.logs import JsonFormatter
from tests.support.factories import STAFF_PASSWORD, bearer, id_number, make_org, make_staff

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def test_no_personal_data_in_logs(client, session, providers, caplog):
    caplog.set_level(logging.DEBUG)
    idn, phone = id_number("19660606"), "13866668888"
    org = make_org(session, "property_company")
    make_staff(session, org, "manager", username="log.check")
    session.commit()
    wx_code = providers.wechat_code(openid="o-log-check")
    wechat = client.post("/api/v1/auth/wechat/login", json={"code": wx_code}).get_json()
    ssb_code = providers.suishenban_code(name="刘日志", id_number=idn, mobile=phone)
    ssb = client.post("/api/v1/auth/suishenban/login", json={"code": ssb_code},
                      headers=bearer(wechat["access_token"])).get_json()
    me = client.get("/api/v1/me", headers=bearer(ssb["access_token"]))
    assert me.status_code == 200
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": ssb["refresh_token"]}).get_json()
    client.post("/api/v1/auth/refresh", json={"refresh_token": ssb["refresh_token"]})  # reuse: warning path
    staff = client.post("/api/v1/auth/staff/login", json={"username": "log.check", "password": STAFF_PASSWORD})
    client.post("/api/v1/auth/staff/login", json={"username": "log.check", "password": "wrong password 123"})
    client.post("/api/v1/auth/wechat/login", json={"code": "wx-err--1"})  # provider failure: logged
    client.post("/api/v1/auth/wechat/login", json={"code": "slow"})
    client.get("/api/v1/me", headers=bearer(wechat["access_token"] + "x"))
    secrets = [idn, idn[-6:], phone, "刘日志", wx_code, ssb_code, "o-log-check", STAFF_PASSWORD,
               wechat["access_token"], wechat["refresh_token"], ssb["access_token"], refreshed["refresh_token"],
               staff.get_json()["access_token"], "wx-test-secret", "ssb-test-secret"]
    raw = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "wechat jscode2session failed" in raw and "/api/v1/me" in raw  # the logs are there
    for value in secrets:
        assert value not in raw, value
    formatted = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    for value in secrets:
        assert value not in formatted, value
