"""WeChat subscription messages need the consent ``wechat_subscription`` (issue 22): accepting a
template in WeChat's dialog gives it; once withdrawn — even after the message was enqueued —
nothing goes to WeChat (``no_grant``, the grant unspent) and an urgent notice falls back to SMS."""
from __future__ import annotations

import pytest

from app.privacy import consents
from app.privacy.consents import PURPOSES, in_effect
from auth.models import Account
from tests.app.wechat.test_channel import grants_of, resident, row, send
from tests.app.wechat.test_subscriptions_api import URL, resident_token, tid
from tests.support.factories import mobile
from tests.support.fake_wechat import FakeWechat

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def withdraw(db, clock, account_id: int) -> None:
    with db.transaction() as s:
        person_id = s.get(Account, account_id).person_id
        assert consents.withdraw(s, clock=clock, person_id=person_id, purpose="wechat_subscription")


def test_accepting_a_subscription_gives_the_consent(client, session, clock):
    account_id, auth = resident_token(session, clock)
    person_id = session.get(Account, account_id).person_id
    assert client.post(URL, json={"template_ids": [tid("ticket_resolved")], "accepted": []},
                       headers=auth).status_code == 201
    assert in_effect(session, person_id, "wechat_subscription") is None  # refusing consents to nothing
    assert client.post(URL, json={"template_ids": [tid("ticket_resolved")], "accepted": [tid("ticket_resolved")]},
                       headers=auth).status_code == 201
    session.expire_all()
    consent = in_effect(session, person_id, "wechat_subscription")
    assert consent is not None and consent.version == PURPOSES["wechat_subscription"].version


def test_a_message_enqueued_before_the_withdrawal_is_not_sent(db, clock, worker, wechat: FakeWechat):
    account_id = resident(db, grants=1)
    send(db, clock, account_id)
    withdraw(db, clock, account_id)  # the late case: the row was waiting when consent went
    worker.run_once()
    message = row(db)
    assert message.state == "no_grant" and "consent" in message.last_error
    assert wechat.sent == [] and grants_of(db, account_id)[0].consumed_at is None


def test_withdrawn_an_urgent_notice_goes_by_sms_instead(db, clock, worker, wechat: FakeWechat):
    account_id = resident(db, grants=1, phone=mobile(), name="ticket_escalated")
    withdraw(db, clock, account_id)
    payload = {"ticket_id": 7, "ticket_no": "T7", "title": "积水", "level": "二级督办",
               "at": "2026-11-02T09:00:00+08:00"}
    send(db, clock, account_id, key="t:7:esc", urgent=True, payload=payload, template="ticket_escalated")
    worker.run_once()
    assert row(db, "t:7:esc").state == "no_grant"
    worker.run_once()
    assert row(db, "t:7:esc", channel="sms").state == "sent"
    assert wechat.sent == []


def test_with_the_consent_in_effect_it_is_sent(db, clock, worker, wechat: FakeWechat):
    account_id = resident(db, grants=1)
    send(db, clock, account_id)
    worker.run_once()
    assert row(db).state == "sent" and len(wechat.sent) == 1
