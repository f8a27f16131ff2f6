"""The ``wechat`` outbox channel against the fake WeChat: grants, answers, retries, fallback."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from app.notify import service as notify
from app.notify.models import OutboxMessage
from app.notify.service import Recipient, enqueue
from app.notify.templates import current_registry
from app.privacy.consents import PURPOSES, Consent
from app.sms.models import SmsMessage
from app.timers import Timer
from app.wechat.client import wechat_api
from app.wechat.models import SubscriptionGrant
from tests.support.factories import make_resident, mobile
from tests.support.fake_wechat import FakeWechat
from tests.support.notify import count

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

ACK = "ticket_acknowledged"
PAYLOAD = {"ticket_id": 42, "ticket_no": "T20261102-0042", "title": "楼道灯不亮", "at": "2026-11-02T09:00:00+08:00",
           "note": "物业已受理，将于今日处理"}


def template_id(name: str = ACK) -> str:
    return current_registry().get(name).wechat.template_id


def resident(db, *, grants: int = 1, name: str = ACK, phone: str | None = None, consent: bool = True) -> int:
    with db.transaction() as s:
        account = make_resident(s, phone=phone)
        for _ in range(grants):
            s.add(SubscriptionGrant(account_id=account.id, template_id=template_id(name),
                                    granted_at=account.created_at))
        if consent:  # accepting in WeChat's dialog consents (grants.record_subscriptions)
            s.add(Consent(person_id=account.person_id, account_id=account.id, purpose="wechat_subscription",
                          version=PURPOSES["wechat_subscription"].version, given_at=account.created_at))
        return account.id


def send(db, clock, account_id: int, *, key: str = "t:42:ack", urgent: bool = False, payload=None,
         template: str = ACK) -> None:
    with db.transaction() as s:
        enqueue(s, event_key=key, template=template, recipients=[Recipient.account(account_id)], clock=clock,
                payload=payload or PAYLOAD, channel="wechat", urgent=urgent)


def row(db, key: str = "t:42:ack", channel: str = "wechat") -> OutboxMessage:
    with db.transaction() as s:
        return next(m for m in notify.messages_for(s, event_key=key) if m.channel == channel)


def grants_of(db, account_id: int) -> list[SubscriptionGrant]:
    with db.transaction() as s:
        return list(s.scalars(sa.select(SubscriptionGrant).where(SubscriptionGrant.account_id == account_id)
                              .order_by(SubscriptionGrant.id)))


def test_sent_with_the_documented_body_and_the_grant_consumed(db, clock, worker, wechat: FakeWechat):
    account_id = resident(db, grants=2)
    send(db, clock, account_id)
    worker.run_once()
    message = row(db)
    assert message.state == "sent" and message.attempts == 1 and message.sent_at == clock.now()
    (body,) = wechat.sent
    with db.transaction() as s:
        from auth.models import Account

        openid = s.get(Account, account_id).openid
    assert body == {
        "touser": openid, "template_id": template_id(), "page": "pages/tickets/detail?id=42",
        "miniprogram_state": "developer", "lang": "zh_CN",
        "data": {"character_string1": {"value": "T20261102-0042"}, "thing2": {"value": "楼道灯不亮"},
                 "phrase3": {"value": "已受理"}, "time4": {"value": "2026年11月2日 09:00"},
                 "thing5": {"value": "物业已受理，将于今日处理"}},
    }
    first, second = grants_of(db, account_id)
    assert first.consumed_at == clock.now() and first.outbox_id == message.id
    assert second.consumed_at is None  # one grant, one message


def test_no_grant_sends_nothing(db, clock, worker, wechat: FakeWechat):
    account_id = resident(db, grants=0)
    send(db, clock, account_id)
    worker.run_once()
    message = row(db)
    assert message.state == "no_grant" and message.last_error == "no subscription grant"
    assert wechat.sent == [] and wechat.api_calls == [] and wechat.token_calls == []


def test_a_grant_of_another_template_does_not_count(db, clock, worker, wechat: FakeWechat):
    account_id = resident(db, grants=1, name="ticket_resolved")
    send(db, clock, account_id)
    worker.run_once()
    assert row(db).state == "no_grant" and wechat.sent == []
    assert grants_of(db, account_id)[0].consumed_at is None


def test_43101_consumes_the_grant_and_is_not_retried(db, clock, worker, wechat: FakeWechat):
    account_id = resident(db, grants=1)
    wechat.script = [43101]
    send(db, clock, account_id)
    worker.run_once()
    message = row(db)
    assert message.state == "no_grant" and "43101" in message.last_error
    (grant,) = grants_of(db, account_id)
    assert grant.consumed_at is not None and grant.outbox_id == message.id
    calls = len(wechat.api_calls)
    clock.advance(hours=2)
    worker.run_once()
    assert len(wechat.api_calls) == calls and row(db).attempts == 1


@pytest.mark.parametrize("errcode", [40003, 40037, 47003, 41030])
def test_permanent_errors_fail_without_retry(db, clock, worker, wechat: FakeWechat, errcode):
    account_id = resident(db, grants=1)
    wechat.script = [errcode]
    send(db, clock, account_id)
    worker.run_once()
    clock.advance(hours=2)
    worker.run_once()
    message = row(db)
    assert message.state == "failed" and message.attempts == 1 and message.last_error.startswith(str(errcode))
    assert grants_of(db, account_id)[0].consumed_at is None  # WeChat did not spend it
    assert len(wechat.api_calls) == 1


@pytest.mark.parametrize("failure", [-1, "slow"])
def test_busy_and_timeouts_are_retried_with_backoff(db, clock, worker, wechat: FakeWechat, failure):
    account_id = resident(db, grants=1)
    wechat.script = [failure] if failure == -1 else ["slow"]
    send(db, clock, account_id)
    worker.run_once()
    message = row(db)
    assert message.state == "pending" and message.attempts == 1
    assert ("busy" in message.last_error) if failure == -1 else ("timeout" in message.last_error.lower())
    assert grants_of(db, account_id)[0].consumed_at is None
    worker.run_once()  # not due yet
    assert row(db).attempts == 1
    clock.advance(seconds=15)
    worker.run_once()
    message = row(db)
    assert message.state == "sent" and message.attempts == 2 and message.last_error is None
    assert grants_of(db, account_id)[0].outbox_id == message.id
    assert len(wechat.sent) == 1


def test_unknown_errcode_is_retried(db, clock, worker, wechat: FakeWechat):
    account_id = resident(db, grants=1)
    wechat.script = [45009]
    send(db, clock, account_id)
    worker.run_once()
    assert row(db).state == "pending" and row(db).last_error == "errcode 45009"


def test_payload_that_cannot_fill_the_template_fails_for_good(db, clock, worker, wechat: FakeWechat):
    account_id = resident(db, grants=1)
    send(db, clock, account_id, payload={**PAYLOAD, "title": None})
    worker.run_once()
    message = row(db)
    assert message.state == "failed" and "thing2 (title)" in message.last_error
    assert wechat.api_calls == [] and grants_of(db, account_id)[0].consumed_at is None


def test_long_text_is_cut_within_wechat_limits(db, clock, worker, wechat: FakeWechat):
    account_id = resident(db, grants=1)
    long_title = "小区东门外人行道上的路灯已经连续三个晚上不亮了请尽快派人维修"
    send(db, clock, account_id, payload={**PAYLOAD, "title": long_title})
    worker.run_once()
    assert row(db).state == "sent"  # the fake refuses (47003) any thing over 20 characters
    value = wechat.sent[0]["data"]["thing2"]["value"]
    assert len(value) == 20 and value == long_title[:19] + "…"


def test_urgent_without_grant_falls_back_to_sms_once(db, clock, worker, wechat: FakeWechat):
    phone = mobile()
    account_id = resident(db, grants=0, phone=phone, name="ticket_escalated")
    payload = {"ticket_id": 7, "ticket_no": "T7", "title": "积水", "level": "二级督办",
               "at": "2026-11-02T09:00:00+08:00"}
    send(db, clock, account_id, key="t:7:esc", urgent=True, payload=payload, template="ticket_escalated")
    worker.run_once()
    assert row(db, "t:7:esc").state == "no_grant"
    assert row(db, "t:7:esc", channel="sms").state == "pending"  # enqueued with the no_grant, due at once
    worker.run_once()
    sms_row = row(db, "t:7:esc", channel="sms")
    assert sms_row.state == "sent" and sms_row.urgent
    assert wechat.sent == []
    with db.transaction() as s:
        (recorded,) = s.scalars(sa.select(SmsMessage).where(SmsMessage.outbox_id == sms_row.id)).all()
        assert recorded.to == phone and recorded.template == "JS_TICKET_ESC"
        assert recorded.params == {"no": "T7", "level": "二级督办"} and recorded.provider == "record"
        assert count(s, OutboxMessage, OutboxMessage.event_key == "t:7:esc") == 2


def test_not_urgent_without_grant_has_no_fallback(db, clock, worker, wechat: FakeWechat):
    account_id = resident(db, grants=0, phone=mobile())
    send(db, clock, account_id)
    worker.run_once()
    with db.transaction() as s:
        assert count(s, OutboxMessage, OutboxMessage.event_key == "t:42:ack") == 1


def test_burst_of_1000_during_an_outage_none_lost(db, clock, worker, wechat: FakeWechat):
    """WeChat is down while 1,000 messages are due: each is retried with backoff, the breaker
    keeps the worker from waiting on WeChat 1,000 times, and when WeChat returns the queue
    drains: every message sent exactly once, every grant consumed by its own row."""
    from auth.models import Account

    n = 1000
    with db.transaction() as s:
        ids = list(s.scalars(sa.insert(Account).returning(Account.id),
                             [{"kind": "wechat", "openid": f"o-burst-{i:04d}", "status": "active",
                               "created_at": clock.now(), "updated_at": clock.now()}
                              for i in range(n)]))
        s.execute(sa.insert(SubscriptionGrant), [{"account_id": a, "template_id": template_id(),
                                                  "granted_at": clock.now()} for a in ids])
        assert enqueue(s, event_key="burst", template=ACK, recipients=[Recipient.account(a) for a in ids],
                       clock=clock, payload=PAYLOAD, channel="wechat") == n
        wechat_api().tokens.token(s)  # the token was fetched before WeChat went down
    wechat.outage = True
    worker.run_once()  # 5 failures open the breaker; the other 995 fail fast
    clock.advance(seconds=15)  # the outbox's first backoff; the breaker is still open
    worker.run_once()
    calls_in_outage = len(wechat.api_calls)
    with db.transaction() as s:
        rows = s.execute(sa.select(OutboxMessage.state, OutboxMessage.attempts, sa.func.count())
                         .where(OutboxMessage.event_key == "burst")
                         .group_by(OutboxMessage.state, OutboxMessage.attempts)).all()
        assert [tuple(r) for r in rows] == [("pending", 2, n)]
    assert calls_in_outage == 5 and {p for p, _ in wechat.api_calls} == {"/cgi-bin/message/subscribe/send"}
    wechat.outage = False
    clock.advance(seconds=30)  # the second backoff; the breaker half-opens and WeChat answers
    worker.run_once()
    with db.transaction() as s:
        states = dict(s.execute(sa.select(OutboxMessage.state, sa.func.count())
                                .where(OutboxMessage.event_key == "burst").group_by(OutboxMessage.state)).all())
        assert states == {"sent": n}
        consumed = s.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(SubscriptionGrant.outbox_id)))
                             .where(SubscriptionGrant.account_id.in_(ids),
                                    SubscriptionGrant.consumed_at.is_not(None))).one()
        assert tuple(consumed) == (n, n)
        assert count(s, Timer, Timer.kind == notify.DELIVER_KIND, Timer.state == "pending") == 0
    assert sorted(m["touser"] for m in wechat.sent) == sorted(f"o-burst-{i:04d}" for i in range(n))


def test_a_lost_answer_repeats_the_message_at_least_once(db, clock, worker, wechat: FakeWechat):
    """WeChat took the message but its answer came after our timeout: the retry sends it
    again (spending the second grant). This is the documented at-least-once case."""
    account_id = resident(db, grants=2)
    wechat.script = ["lost"]
    send(db, clock, account_id)
    worker.run_once()
    assert row(db).state == "pending" and len(wechat.sent) == 1
    clock.advance(seconds=15)
    worker.run_once()
    assert row(db).state == "sent" and len(wechat.sent) == 2
    assert wechat.sent[0]["data"] == wechat.sent[1]["data"]
    first, second = grants_of(db, account_id)
    assert first.outbox_id == row(db).id and second.consumed_at is None
    time.sleep(0.7)  # let the fake finish its late answer before the next test resets it
