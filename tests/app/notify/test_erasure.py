"""Account cancellation reaches grants, SMS records and moderation items."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.moderation import service as moderation
from app.moderation.models import ModerationItem
from app.notify.models import OutboxMessage
from app.notify.service import Recipient, enqueue
from app.notify.templates import current_registry
from app.sms.models import SmsMessage
from app.wechat.models import SubscriptionGrant
from tests.support.factories import bearer, make_resident, mobile, token_for
from tests.support.notify import count

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def test_cancelling_the_account_erases_what_we_hold(client, db, session, clock, worker):
    phone = mobile()
    account = make_resident(session, phone=phone)
    other = make_resident(session, phone=mobile())
    auth = bearer(token_for(session, clock, account))
    ack = current_registry().get("ticket_acknowledged").wechat.template_id
    for who in (account, other):
        session.add(SubscriptionGrant(account_id=who.id, template_id=ack, granted_at=clock.now()))
        enqueue(session, event_key=f"e:{who.id}", template="ticket_acknowledged", clock=clock, channel="sms",
                recipients=[Recipient.account(who.id)], payload={"ticket_no": "T1"})
    moderation.submit(session, subject_type="test_report", subject_id=1, texts=["路灯不亮"], clock=clock,
                      author_account_id=account.id)
    moderation.submit(session, subject_type="test_report", subject_id=2, texts=["积水"], clock=clock,
                      author_account_id=other.id)
    session.commit()
    worker.run_once()
    assert client.delete("/api/v1/me", headers=auth).status_code == 204
    with db.transaction() as s:
        assert count(s, SubscriptionGrant, SubscriptionGrant.account_id == account.id) == 0
        assert count(s, SubscriptionGrant, SubscriptionGrant.account_id == other.id) == 1
        def sms_to(who):
            return s.scalars(sa.select(SmsMessage).join(OutboxMessage, OutboxMessage.id == SmsMessage.outbox_id)
                             .where(OutboxMessage.recipient_id == str(who.id))).one()

        mine, theirs = sms_to(account), sms_to(other)
        assert (mine.to, mine.to_masked) == ("", "") and mine.template == "JS_TICKET_ACK"
        assert theirs.to != "" and theirs.to_masked.endswith(theirs.to[-4:])
        texts = dict(s.execute(sa.select(ModerationItem.subject_id, ModerationItem.text)).all())
        assert texts == {"1": "（内容已随账号注销删除）", "2": "积水"}
