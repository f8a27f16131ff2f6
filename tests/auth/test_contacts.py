"""Staff contact points (a work mobile verified by an SMS code, a WeCom id, the name residents
see) and the staff password reset by a code sent to the verified mobile."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.sms.models import SmsMessage
from app.worker import Worker
from auth.contacts import StaffContact, VerificationCode
from auth.models import Account, RefreshToken
from tests.support.factories import STAFF_PASSWORD, bearer, make_org, make_staff, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

MOBILE = "13800138000"


@pytest.fixture
def team(session, clock):
    company = make_org(session, "property_company")
    other = make_org(session, "property_company")
    people = {"manager": make_staff(session, company, "manager", username="contact.manager"),
              "tech": make_staff(session, company, "technician", username="contact.tech"),
              "tech2": make_staff(session, company, "technician", username="contact.tech2"),
              "stranger": make_staff(session, other, "manager", username="contact.stranger")}
    orgs = {"manager": company, "tech": company, "tech2": company, "stranger": other}
    session.commit()
    tokens = {name: bearer(token_for(session, clock, a, orgs[name])) for name, a in people.items()}
    session.commit()
    return {"company": company, "other": other, "people": people, "tokens": tokens}


def deliver(db, clock) -> None:
    """What the worker does: the timers due (a reset request), then the notices they enqueue."""
    for _ in range(3):
        Worker(db, clock, worker_id="contacts", periodic_jobs={}).run_once()


def sent_to(session, mobile: str) -> list[SmsMessage]:
    """The SMS messages sent to ``mobile`` (the number is stored encrypted: compared decrypted)."""
    session.expire_all()
    return [m for m in session.scalars(sa.select(SmsMessage).order_by(SmsMessage.id)) if m.to == mobile]


def sent_codes(session, mobile: str) -> list[str]:
    return [m.params["code"] for m in sent_to(session, mobile) if "code" in m.params]


def membership_id(session, account: Account) -> int:
    return account.memberships[0].id


def test_a_new_mobile_is_sent_a_code_and_verified_with_it(client, session, db, clock, team):
    me = team["tokens"]["tech"]
    resp = client.put("/api/v1/staff/me/contact", json={"display_name": "张师傅", "mobile": MOBILE,
                                                         "wecom_userid": "zhang.shifu"}, headers=me)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"display_name": "张师傅", "mobile": MOBILE, "mobile_verified": False,
                               "wecom_userid": "zhang.shifu"}
    deliver(db, clock)
    (code,) = sent_codes(session, MOBILE)  # the unverified number gets its code, and only it
    wrong = "000000" if code != "000000" else "111111"
    bad = client.post("/api/v1/staff/me/contact/verify", json={"code": wrong}, headers=me)
    assert bad.status_code == 422 and bad.get_json()["code"] == "verification_code_invalid"
    assert "code" in bad.get_json()["errors"]
    ok = client.post("/api/v1/staff/me/contact/verify", json={"code": code}, headers=me)
    assert ok.status_code == 200 and ok.get_json()["mobile_verified"] is True
    again = client.post("/api/v1/staff/me/contact/verify", json={"code": code}, headers=me)
    assert again.status_code == 422  # used once
    stored = session.scalar(sa.select(StaffContact).where(StaffContact.account_id == team["people"]["tech"].id))
    raw = session.execute(sa.text("SELECT mobile FROM staff_contacts WHERE id = :id"), {"id": stored.id}).scalar()
    assert MOBILE not in raw and stored.mobile_hash  # encrypted at rest, looked up by hash


def test_an_expired_code_and_too_many_tries_are_refused(client, session, db, clock, team):
    me = team["tokens"]["tech"]
    client.put("/api/v1/staff/me/contact", json={"mobile": MOBILE}, headers=me)
    deliver(db, clock)
    (code,) = sent_codes(session, MOBILE)
    clock.advance(minutes=11)
    me = bearer(token_for(session, clock, team["people"]["tech"], team["company"]))
    session.commit()
    assert client.post("/api/v1/staff/me/contact/verify", json={"code": code}, headers=me).status_code == 422
    assert client.post("/api/v1/staff/me/contact/resend", headers=me).status_code == 202
    deliver(db, clock)
    fresh = sent_codes(session, MOBILE)[-1]
    wrong = "999999" if fresh != "999999" else "888888"
    for _ in range(5):
        assert client.post("/api/v1/staff/me/contact/verify", json={"code": wrong}, headers=me).status_code == 422
    # five wrong tries kill the code, even for the right one
    assert client.post("/api/v1/staff/me/contact/verify", json={"code": fresh}, headers=me).status_code == 422
    row = session.scalars(sa.select(VerificationCode).order_by(VerificationCode.id.desc())).first()
    assert row.attempts == 5 and row.used_at is None


def test_a_changed_number_starts_over(client, session, db, clock, team):
    me = team["tokens"]["tech"]
    client.put("/api/v1/staff/me/contact", json={"mobile": MOBILE}, headers=me)
    deliver(db, clock)
    (code,) = sent_codes(session, MOBILE)
    client.put("/api/v1/staff/me/contact", json={"mobile": "13900139000"}, headers=me)
    # the first number's code no longer verifies anything
    assert client.post("/api/v1/staff/me/contact/verify", json={"code": code}, headers=me).status_code == 422


@pytest.mark.parametrize(("body", "field"), [
    ({"mobile": "12345"}, "mobile"), ({"mobile": "２３９１２３４５６７８"}, "mobile"),
    ({"wecom_userid": "张三"}, "wecom_userid"), ({"wecom_userid": "a b"}, "wecom_userid"),
    ({"wecom_userid": "@all"}, "wecom_userid"), ({"wecom_userid": ".zhang"}, "wecom_userid"),
    ({"wecom_userid": "z" * 65}, "wecom_userid"),
    ({"display_name": "x" * 21}, "display_name"), ({"unknown": 1}, "unknown"),
])
def test_bad_contact_input_names_the_field(client, team, body, field):
    resp = client.put("/api/v1/staff/me/contact", json=body, headers=team["tokens"]["tech"])
    assert resp.status_code == 422 and field in resp.get_json()["errors"], resp.get_json()


@pytest.mark.parametrize("userid", ["z" * 64, "9li_si-2@corp", "A"])
def test_wecom_userids_within_wecoms_rule_are_kept(client, team, userid):
    resp = client.put("/api/v1/staff/me/contact", json={"wecom_userid": userid}, headers=team["tokens"]["tech"])
    assert resp.status_code == 200 and resp.get_json()["wecom_userid"] == userid


def test_managers_set_their_staffs_contacts_and_others_cannot(client, session, team):
    company, tech = team["company"], team["people"]["tech"]
    path = f"/api/v1/orgs/{company.code}/staff/{membership_id(session, tech)}/contact"
    put = client.put(path, json={"display_name": "李师傅", "wecom_userid": "li.shifu"},
                     headers=team["tokens"]["manager"])
    assert put.status_code == 200 and put.get_json()["display_name"] == "李师傅"
    assert client.get(path, headers=team["tokens"]["manager"]).get_json()["wecom_userid"] == "li.shifu"
    # a fellow technician sees the organisation but may not manage its staff: 403
    assert client.put(path, json={"display_name": "x"}, headers=team["tokens"]["tech2"]).status_code == 403
    assert client.get(path, headers=team["tokens"]["tech2"]).status_code == 403
    # another company's manager may not even see it: 404
    assert client.get(path, headers=team["tokens"]["stranger"]).status_code == 404
    other_member = f"/api/v1/orgs/{company.code}/staff/{membership_id(session, team['people']['stranger'])}/contact"
    assert client.get(other_member, headers=team["tokens"]["manager"]).status_code == 404


def test_an_unverified_mobile_receives_no_notices(session, db, clock, team):
    from app.notify.service import Recipient, enqueue

    tech = team["people"]["tech"]
    session.add(StaffContact(account_id=tech.id, updated_at=clock.now()))
    session.flush()
    contact = session.scalar(sa.select(StaffContact).where(StaffContact.account_id == tech.id))
    contact.set_mobile(MOBILE)
    enqueue(session, event_key="t:unverified", template="ticket_escalated", clock=clock, channel="sms",
            recipients=[Recipient.account(tech.id)], payload={"ticket_no": "T1", "level": "1"}, urgent=True)
    session.commit()
    deliver(db, clock)
    assert sent_to(session, MOBILE) == []
    contact.mobile_verified_at = clock.now()
    enqueue(session, event_key="t:verified", template="ticket_escalated", clock=clock, channel="sms",
            recipients=[Recipient.account(tech.id)], payload={"ticket_no": "T1", "level": "1"}, urgent=True)
    session.commit()
    deliver(db, clock)
    assert [m.template for m in sent_to(session, MOBILE)] == ["JS_TICKET_ESC"]


# ---------------------------------------------------------------- password reset


def _verified(session, clock, account: Account, mobile: str = MOBILE) -> None:
    contact = StaffContact(account_id=account.id, updated_at=clock.now())
    contact.set_mobile(mobile)
    contact.mobile_verified_at = clock.now()
    session.add(contact)
    session.commit()


def test_asking_for_a_reset_answers_the_same_whoever_asks(client, session, team, clock):
    _verified(session, clock, team["people"]["tech"])
    answers = []
    for name in ("contact.tech", "contact.tech2", "no.such.user", "x"):
        resp = client.post("/api/v1/auth/staff/password-reset", json={"username": name})
        headers = {k: v for k, v in resp.headers.items() if k not in ("X-Request-ID", "Date", "Content-Length")}
        answers.append((resp.status_code, resp.get_data(), headers))
    assert all(a == answers[0] for a in answers) and answers[0][0] == 202


def test_a_reset_code_sets_a_new_password_and_ends_every_session(client, session, db, clock, team,
                                                                  settings_override):
    settings_override(SIGNIN_DELAY_BASE_SECONDS="60")
    tech = team["people"]["tech"]
    _verified(session, clock, tech)
    refresh_rows = session.scalar(sa.select(sa.func.count()).select_from(RefreshToken).where(
        RefreshToken.account_id == tech.id, RefreshToken.revoked_at.is_(None)))
    assert refresh_rows >= 1
    client.post("/api/v1/auth/staff/password-reset", json={"username": "contact.tech"})
    client.post("/api/v1/auth/staff/password-reset", json={"username": "contact.tech2"})  # no mobile: nothing
    deliver(db, clock)
    (code,) = sent_codes(session, MOBILE)
    new = "A-new passphrase 42"
    for _ in range(3):  # a stranger makes the name wait a minute ...
        client.post("/api/v1/auth/staff/login", json={"username": "contact.tech", "password": "a wrong guess"},
                    environ_base={"REMOTE_ADDR": "10.66.0.9"})
    waiting = client.post("/api/v1/auth/staff/login", json={"username": "contact.tech", "password": STAFF_PASSWORD})
    assert waiting.get_json()["code"] == "login_locked"  # ... and the reset below ends the wait
    bad = client.post("/api/v1/auth/staff/password-reset/confirm",
                      json={"username": "contact.tech2", "code": code, "new_password": new})
    assert bad.status_code == 422  # another user's code is nobody else's
    weak = client.post("/api/v1/auth/staff/password-reset/confirm",
                       json={"username": "contact.tech", "code": code, "new_password": "aaaa"})
    assert weak.status_code == 422 and weak.get_json()["code"] == "password_too_weak"  # the code is not spent
    ok = client.post("/api/v1/auth/staff/password-reset/confirm",
                     json={"username": "contact.tech", "code": code, "new_password": new})
    assert ok.status_code == 204, ok.get_json()
    reused = client.post("/api/v1/auth/staff/password-reset/confirm",
                         json={"username": "contact.tech", "code": code, "new_password": new + "!"})
    assert reused.status_code == 422 and reused.get_json()["code"] == "verification_code_invalid"
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(RefreshToken).where(
        RefreshToken.account_id == tech.id, RefreshToken.revoked_at.is_(None))) == 0
    old = client.post("/api/v1/auth/staff/login", json={"username": "contact.tech", "password": STAFF_PASSWORD})
    assert old.status_code == 401
    assert client.post("/api/v1/auth/staff/login", json={"username": "contact.tech", "password": new}).status_code \
        == 200


def test_an_expired_reset_code_is_refused(client, session, db, clock, team):
    _verified(session, clock, team["people"]["tech"])
    client.post("/api/v1/auth/staff/password-reset", json={"username": "contact.tech"})
    deliver(db, clock)
    (code,) = sent_codes(session, MOBILE)
    clock.advance(minutes=10, seconds=1)
    resp = client.post("/api/v1/auth/staff/password-reset/confirm",
                       json={"username": "contact.tech", "code": code, "new_password": "A-new passphrase 42"})
    assert resp.status_code == 422 and resp.get_json()["code"] == "verification_code_invalid"
