"""Consents: given with purpose, text version and time; withdrawn by DELETE, in effect at once
(a later request needing it is refused); one active per purpose; in the export."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.errors import ApiError
from app.privacy.consents import PURPOSES, Consent, give, require_consent
from tests.support.factories import bearer, count, make_resident, token_for

NOON = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)
TAXI = "precise_location_taxi"
VERSION = PURPOSES[TAXI].version


@pytest.fixture
def alice(ctx, reset_rate_limits, session, clock):
    clock.set(NOON)
    account = make_resident(session, name="王小明")
    session.commit()
    return account, bearer(token_for(session, clock, account))


def state(body: dict, purpose: str = TAXI) -> dict:
    return next(i for i in body["items"] if i["purpose"] == purpose)


def test_give_and_withdraw_take_effect_at_once(client, alice, session, clock):
    account, h = alice
    listed = client.get("/api/v1/me/consents", headers=h).get_json()
    assert {i["purpose"] for i in listed["items"]} == set(PURPOSES) and not state(listed)["given"]
    with pytest.raises(ApiError) as refused:
        require_consent(session, person_id=account.person_id, purpose=TAXI)
    assert refused.value.code == "consent_required"
    given = client.post("/api/v1/me/consents", json={"purpose": TAXI, "version": VERSION}, headers=h)
    assert given.status_code == 200 and state(given.get_json())["given"]
    assert state(given.get_json())["given_at"].startswith("2026-12-04T12:00:00")
    assert require_consent(session, person_id=account.person_id, purpose=TAXI).version == VERSION
    # giving again is harmless: still one active consent
    client.post("/api/v1/me/consents", json={"purpose": TAXI, "version": VERSION}, headers=h)
    assert count(session, Consent, Consent.withdrawn_at.is_(None)) == 1
    clock.set(NOON + timedelta(minutes=5))
    withdrawn = client.delete(f"/api/v1/me/consents?purpose={TAXI}", headers=h)
    assert withdrawn.status_code == 200
    body = state(withdrawn.get_json())
    assert not body["given"] and body["history"][0]["withdrawn_at"].startswith("2026-12-04T12:05:00")
    session.expire_all()
    with pytest.raises(ApiError):  # a late request needing it is refused
        require_consent(session, person_id=account.person_id, purpose=TAXI)
    assert not state(client.get("/api/v1/me/consents", headers=h).get_json(), "wechat_subscription")["given"]


def test_bad_input_is_a_clear_error(client, alice):
    _, h = alice
    unknown = client.post("/api/v1/me/consents", json={"purpose": "marketing", "version": VERSION}, headers=h)
    assert unknown.status_code == 422 and "purpose" in unknown.get_json()["errors"]
    old = client.post("/api/v1/me/consents", json={"purpose": TAXI, "version": "2020-01-01"}, headers=h)
    assert old.status_code == 409 and old.get_json()["code"] == "consent_version_outdated"
    assert client.delete("/api/v1/me/consents?purpose=nope", headers=h).status_code == 422
    assert client.delete(f"/api/v1/me/consents?purpose={TAXI}").status_code == 401


def test_a_consent_to_an_older_text_is_not_in_effect(alice, session, clock, monkeypatch):
    account, _ = alice
    give(session, clock=clock, person_id=account.person_id, account_id=account.id, purpose=TAXI, version=VERSION)
    monkeypatch.setitem(PURPOSES, TAXI, PURPOSES[TAXI].__class__("叫车时使用精确位置", "2027-01-01", "新文本"))
    with pytest.raises(ApiError):
        require_consent(session, person_id=account.person_id, purpose=TAXI)
    give(session, clock=clock, person_id=account.person_id, account_id=account.id, purpose=TAXI, version="2027-01-01")
    rows = session.scalars(sa.select(Consent).order_by(Consent.id)).all()
    assert [(r.version, r.withdrawn_at is None) for r in rows] == [(VERSION, False), ("2027-01-01", True)]


def test_a_withdrawn_service_notices_consent_stops_reminders_not_news(client, alice, session, db, clock):
    """``service_notices``: an optional notice (a reminder) queued before the withdrawal is not
    sent after it; a notice of the person's matter still is; never having answered is no
    withdrawal (reminders are sent)."""
    from app.notify.models import OutboxMessage
    from app.notify.service import Recipient, enqueue
    from app.worker import Worker

    account, h = alice
    never = make_resident(session, name="李未答")
    session.commit()
    payload = {"booking_id": 1, "resource": "羽毛球1号场", "starts_at": NOON.isoformat(), "title": "预约提醒",
               "ticket_no": "BK1", "note": "n", "level": 0, "at": NOON.isoformat(), "reason": "r"}
    for key, template, who in (("r1", "booking_reminder", account), ("r2", "booking_reminder", never),
                               ("n1", "booking_cancelled", account)):
        enqueue(session, event_key=key, template=template, recipients=[Recipient.account(who.id)], clock=clock,
                channel="log", payload=payload)
    session.commit()
    give_ = client.post("/api/v1/me/consents", json={"purpose": "service_notices",
                                                     "version": PURPOSES["service_notices"].version}, headers=h)
    assert give_.status_code == 200
    assert client.delete("/api/v1/me/consents", query_string={"purpose": "service_notices"},
                         headers=h).status_code in (200, 204)
    Worker(db, clock, worker_id="consent-test", periodic_jobs={}).run_once()
    session.expire_all()
    states = dict(session.execute(sa.select(OutboxMessage.event_key, OutboxMessage.state)).all())
    assert states["r1"] == "skipped" and states["r2"] == "sent" and states["n1"] == "sent", states
