"""The ``auto`` channel (staff by WeCom, residents by WeChat) and the urgent SMS fallback when
the first channel is down: an urgent notice reaches someone now, an ordinary one waits."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.notify.service import Recipient, enqueue
from app.wecom.client import wecom_api
from auth.contacts import StaffContact
from tests.support.factories import make_org, make_resident, make_staff, uid
from tests.support.fake_wecom import FakeWecom

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

PAYLOAD = {"ticket_id": 42, "number": "T20261102-0042", "scenario": "property_repair", "status": "submitted",
           "ticket_no": "T20261102-0042", "title": "物业百事通", "at": "2026-11-02T09:00:00+08:00",
           "note": "有新的工单待处理"}


def people(db, clock) -> tuple[int, int, str]:
    """A staff member with a WeCom id and a verified mobile, and a resident."""
    userid = uid("wx")[:30]
    with db.transaction() as s:
        staff = make_staff(s, make_org(s, "property_company"), "technician")
        contact = StaffContact(account_id=staff.id, wecom_userid=userid, updated_at=clock.now(),
                               mobile_verified_at=clock.now())
        contact.set_mobile("13800138000")
        s.add(contact)
        resident = make_resident(s, name="王五")
    return staff.id, resident.id, userid


def channels(db, key: str) -> dict[tuple[str, str], OutboxMessage]:
    with db.transaction() as s:
        rows = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.event_key == key)).all()
        return {(m.recipient_id, m.channel): m for m in rows}


def test_auto_gives_staff_wecom_and_residents_wechat_at_enqueue(db, clock):
    staff, resident, _ = people(db, clock)
    with db.transaction() as s:
        enqueue(s, event_key="auto-1", template="ticket_received", clock=clock, payload=PAYLOAD, channel="auto",
                recipients=[Recipient.account(staff), Recipient.account(resident), Recipient("org", 7)])
    rows = channels(db, "auto-1")
    assert set(rows) == {(str(staff), "wecom"), (str(resident), "wechat"), ("7", "wecom")}


def test_unknown_channels_are_refused_before_anything_is_written(db, clock):
    with pytest.raises(ValueError), db.transaction() as s:
        enqueue(s, event_key="auto-2", template="ticket_received", clock=clock, payload=PAYLOAD, channel="pigeon",
                recipients=[Recipient.account(1)])
    assert channels(db, "auto-2") == {}


@pytest.mark.parametrize("urgent", [True, False])
def test_wecom_down_urgent_goes_to_sms_at_once_ordinary_waits(db, clock, worker, wecom: FakeWecom, urgent):
    staff, _, userid = people(db, clock)
    wecom.add_user(userid)
    with db.transaction() as s:
        wecom_api().tokens.token(s)
    wecom.outage = True
    key = f"auto-out-{urgent}"
    with db.transaction() as s:
        enqueue(s, event_key=key, template="ticket_received", clock=clock, payload=PAYLOAD, channel="auto",
                recipients=[Recipient.account(staff)], urgent=urgent)
    worker.run_once()
    rows = channels(db, key)
    first = rows[(str(staff), "wecom")]
    if urgent:
        assert first.state == "failed" and "fell back to sms" in first.last_error and first.attempts == 1
        sms = rows[(str(staff), "sms")]
        assert sms.urgent and sms.template == "ticket_received"
    else:
        assert first.state == "pending" and first.attempts == 1  # retried on WeCom later, no SMS
        assert (str(staff), "sms") not in rows
        wecom.outage = False
        clock.advance(seconds=15)
        worker.run_once()
        assert channels(db, key)[(str(staff), "wecom")].state == "sent" and len(wecom.sent) == 1
