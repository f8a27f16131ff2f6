"""The ``sms`` channel: the record provider (default) and the HTTP provider against a local server."""
from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from app.notify import service as notify
from app.notify.models import OutboxMessage
from app.notify.service import Recipient, enqueue
from app.sms.models import SmsMessage
from auth.models import Person
from tests.support.factories import bearer, make_resident, make_staff, mobile, place_world, token_for
from tests.support.fake_wechat import FakeSms

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

PAYLOAD = {"ticket_id": 9, "ticket_no": "T20261102-0009", "title": "路灯不亮", "at": "2026-11-02T09:00:00+08:00"}


def account_with_phone(db, phone: str | None) -> int:
    with db.transaction() as s:
        return make_resident(s, phone=phone).id


def send(db, clock, account_id: int, key: str = "t:9:ack", template: str = "ticket_acknowledged") -> None:
    with db.transaction() as s:
        enqueue(s, event_key=key, template=template, recipients=[Recipient.account(account_id)], clock=clock,
                payload=PAYLOAD, channel="sms")


def outbox(db, key: str = "t:9:ack") -> OutboxMessage:
    with db.transaction() as s:
        (row,) = notify.messages_for(s, event_key=key)
        return row


def test_record_provider_stores_the_message_and_never_logs_the_number(db, clock, worker, caplog):
    phone = mobile()
    account_id = account_with_phone(db, phone)
    send(db, clock, account_id)
    with caplog.at_level(logging.DEBUG):
        worker.run_once()
    row = outbox(db)
    assert row.state == "sent" and row.last_error is None
    with db.transaction() as s:
        (msg,) = s.scalars(sa.select(SmsMessage).where(SmsMessage.outbox_id == row.id)).all()
        assert msg.provider == "record" and msg.to == phone and msg.template == "JS_TICKET_ACK"
        assert msg.params == {"no": "T20261102-0009"} and msg.to_masked == phone[:3] + "****" + phone[-4:]
        stored = s.execute(sa.text("SELECT \"to\" FROM sms_messages WHERE id = :id"), {"id": msg.id}).scalar()
        assert phone not in stored  # encrypted at rest
    assert phone not in caplog.text


def test_no_phone_is_skipped(db, clock, worker):
    send(db, clock, account_with_phone(db, None))
    worker.run_once()
    assert outbox(db).state == "skipped" and outbox(db).last_error == "no phone"


def test_anonymised_person_is_skipped(db, clock, worker):
    account_id = account_with_phone(db, mobile())
    with db.transaction() as s:
        from auth.models import Account

        person = s.get(Person, s.get(Account, account_id).person_id)
        person.anonymised_at = clock.now()
    send(db, clock, account_id)
    worker.run_once()
    assert outbox(db).state == "skipped"


def test_template_without_sms_fails_for_good(db, clock, worker):
    send(db, clock, account_with_phone(db, mobile()), template="content_rejected")
    worker.run_once()
    assert outbox(db).state == "failed" and "no SMS template" in outbox(db).last_error


def test_http_provider_signs_and_sends(db, clock, worker, sms: FakeSms):
    phone = mobile()
    send(db, clock, account_with_phone(db, phone))
    worker.run_once()
    row = outbox(db)
    assert row.state == "sent"
    assert sms.bad_signatures == 0
    assert sms.received == [{"to": phone, "template": "JS_TICKET_ACK", "params": {"no": "T20261102-0009"},
                             "reference": f"outbox-{row.id}", "idempotency_key": f"outbox-{row.id}"}]
    with db.transaction() as s:
        (msg,) = s.scalars(sa.select(SmsMessage).where(SmsMessage.outbox_id == row.id)).all()
        assert msg.provider == "http" and msg.provider_ref == "sms-1"


def test_http_provider_with_a_wrong_key_is_refused_for_good(db, clock, worker, sms: FakeSms, settings_override):
    settings_override(SMS_API_KEY="not-the-key")
    send(db, clock, account_with_phone(db, mobile()))
    worker.run_once()
    row = outbox(db)
    assert row.state == "failed" and row.last_error == "sms provider HTTP 401 bad_signature"
    assert sms.bad_signatures == 1 and sms.received == []


@pytest.mark.parametrize("answer,state", [(500, "pending"), (429, "pending"), ("slow", "pending"), (400, "failed")])
def test_http_provider_errors(db, clock, worker, sms: FakeSms, answer, state):
    phone = mobile()
    sms.script = [answer]
    send(db, clock, account_with_phone(db, phone))
    worker.run_once()
    row = outbox(db)
    assert row.state == state and phone not in (row.last_error or "")
    if state == "pending":
        clock.advance(seconds=15)
        worker.run_once()
        assert outbox(db).state == "sent" and outbox(db).attempts == 2
        # a late answer: accepted, then sent again with the same reference (at least once)
        assert [m["reference"] for m in sms.received] == [f"outbox-{row.id}"] * (1 + (answer == "slow"))
    with db.transaction() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(SmsMessage)
                        .where(SmsMessage.outbox_id == row.id)) == (1 if state == "pending" else 0)


def test_admin_list_is_masked_and_for_district_admins(client, db, session, clock, worker):
    phone = mobile()
    send(db, clock, account_with_phone(db, phone))
    worker.run_once()
    world = place_world(session)
    admin = make_staff(session, world.district, "admin")
    other = make_staff(session, world.towns[0], "admin")
    admin_auth = bearer(token_for(session, clock, admin, world.district))
    other_auth = bearer(token_for(session, clock, other, world.towns[0]))
    session.commit()
    body = client.get("/api/v1/admin/sms", headers=admin_auth).get_json()
    assert body["total"] >= 1 and body["items"][0]["to"] == phone[:3] + "****" + phone[-4:]
    assert phone not in str(body)
    assert client.get("/api/v1/admin/sms", headers=other_auth).status_code == 403
    assert client.get("/api/v1/admin/sms").status_code == 401
