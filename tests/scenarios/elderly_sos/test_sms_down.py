"""The SMS provider is down while an alarm escalates (the HTTP provider against a local fake
answering 500): every step still fires on time, and the outbox retries each SMS until the
provider is back — the neighbour without an account gets hers at the phone the committee
recorded (never in the outbox row)."""
from __future__ import annotations

import sqlalchemy as sa

from app.notify.models import OutboxMessage


def test_the_chain_goes_on_and_the_sms_are_retried(sos, sms):
    sms.script = [500] * 200
    alarm = sos.press()  # nobody on duty: the chain starts at once
    aid = alarm["id"]
    sos.tick(0)
    sos.tick(120)
    sos.tick(180)
    sos.tick(180)
    assert [e.data["step"] for e in sos.trail(aid, "escalated")] == [
        "other_operators", "contacts", "committee", "supervisor"]
    sos.session.expire_all()
    contact_sms = sos.session.scalar(sa.select(OutboxMessage).where(
        OutboxMessage.event_key == f"sos:{aid}:esc:ack:2", OutboxMessage.recipient_kind == "sos_contact"))
    assert contact_sms.channel == "sms" and contact_sms.state == "pending" and contact_sms.attempts >= 1
    assert "13900000002" not in str(contact_sms.payload) and "13900000002" not in (contact_sms.last_error or "")

    sms.script = []  # the provider is back
    for _ in range(12):
        sos.tick(300)
    sos.session.expire_all()
    assert sos.session.get(OutboxMessage, contact_sms.id).state == "sent"
    phones = [m.get("to") or m.get("phone") for m in sms.received]
    assert "13900000002" in phones
