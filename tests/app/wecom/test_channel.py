"""The ``wecom`` outbox channel against the fake WeCom: the card, recipients, answers, retries."""
from __future__ import annotations

import json
import logging
import time

import pytest
import sqlalchemy as sa

from app.notify import service as notify
from app.notify.models import OutboxMessage
from app.notify.service import Recipient, enqueue
from app.wecom.client import wecom_api
from auth.contacts import StaffContact
from auth.models import Account
from tests.support.factories import uid
from tests.support.fake_wecom import AGENT_ID, DESCRIPTION_MAX_BYTES, TITLE_MAX_BYTES, FakeWecom
from tests.support.notify import count

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

RECEIVED = "ticket_received"
PAYLOAD = {"ticket_id": 42, "number": "T20261102-0042", "scenario": "property_repair", "status": "submitted",
           "ticket_no": "T20261102-0042", "title": "物业百事通", "at": "2026-11-02T09:00:00+08:00",
           "note": "有新的工单待处理"}
CONSOLE = "https://jsq.jinshan.example"


def staff(db, clock, wecom: FakeWecom | None, *, userid: str | None = "zhang.san", known: bool = True,
          contact: bool = True, status: str = "active") -> int:
    """A staff account with a contact row naming ``userid`` (known to the fake when ``known``)."""
    with db.transaction() as s:
        account = Account(kind="staff", username=uid("staff"), status=status)
        s.add(account)
        s.flush()
        if contact:
            s.add(StaffContact(account_id=account.id, display_name="张师傅", wecom_userid=userid,
                               updated_at=clock.now()))
    if wecom is not None and userid and known:
        wecom.add_user(userid)
    return account.id


def send(db, clock, recipient: int | Recipient, *, key: str = "wf:42:created", template: str = RECEIVED,
         payload=None, urgent: bool = False) -> None:
    recipient = recipient if isinstance(recipient, Recipient) else Recipient.account(recipient)
    with db.transaction() as s:
        enqueue(s, event_key=key, template=template, recipients=[recipient], clock=clock,
                payload=PAYLOAD if payload is None else payload, channel="wecom", urgent=urgent)


def row(db, key: str = "wf:42:created", channel: str = "wecom") -> OutboxMessage:
    with db.transaction() as s:
        return next(m for m in notify.messages_for(s, event_key=key) if m.channel == channel)


def sends(wecom: FakeWecom) -> list[str]:
    """The tokens of the message/send calls WeCom received."""
    return [token for path, token in wecom.api_calls if path == "/cgi-bin/message/send"]


# ---------------------------------------------------------------- the card


def test_a_card_is_sent_with_the_documented_body_and_the_ticket_link(db, clock, worker, wecom: FakeWecom):
    account_id = staff(db, clock, wecom)
    send(db, clock, account_id)
    worker.run_once()
    message = row(db)
    assert message.state == "sent" and message.attempts == 1 and message.sent_at == clock.now()
    assert message.last_error is None
    (body,) = wecom.sent
    assert body == {
        "touser": "zhang.san", "msgtype": "textcard", "agentid": AGENT_ID,
        "textcard": {
            "title": "新工单提醒",
            "description": '<div class="normal">工单编号：T20261102-0042</div>'
                           '<div class="normal">业务：物业百事通</div>'
                           '<div class="normal">进展：有新的工单待处理</div>'
                           '<div class="gray">时间：2026年11月2日 09:00</div>',
            "url": f"{CONSOLE}/console/tickets/42",
            "btntxt": "详情",
        },
    }
    assert isinstance(body["agentid"], int)  # WeCom wants a number, the setting is a string


def test_the_escalation_card_has_its_own_title_and_the_level(db, clock, worker, wecom: FakeWecom):
    account_id = staff(db, clock, wecom)
    payload = {**PAYLOAD, "level": 2, "note": "工单响应超时，请尽快处理", "at": "2026-11-02T01:30:00+00:00"}
    send(db, clock, account_id, key="wf:42:esc:0:2", template="ticket_escalated", payload=payload, urgent=True)
    worker.run_once()
    assert row(db, "wf:42:esc:0:2").state == "sent"
    card = wecom.sent[0]["textcard"]
    assert card["title"] == "【督办】工单响应超时"
    assert '<div class="normal">督办级别：2</div>' in card["description"]
    assert '<div class="gray">时间：2026年11月2日 09:30</div>' in card["description"]  # Beijing time


def test_a_template_without_a_wecom_section_gets_the_generic_card(db, clock, worker, wecom: FakeWecom):
    account_id = staff(db, clock, wecom)
    send(db, clock, account_id, key="wf:42:ack", template="ticket_acknowledged",
         payload={**PAYLOAD, "note": "您反映的问题已受理"})
    worker.run_once()
    card = wecom.sent[0]["textcard"]
    assert card["title"] == "工单受理通知"  # the template's title
    assert "工单编号：T20261102-0042" in card["description"] and "进展：您反映的问题已受理" in card["description"]


def test_without_a_ticket_the_link_is_the_console(db, clock, worker, wecom: FakeWecom):
    account_id = staff(db, clock, wecom)
    send(db, clock, account_id, payload={"title": "内容审核", "at": "2026-11-02T09:00:00+08:00", "ticket_id": 5})
    worker.run_once()
    assert wecom.sent[0]["textcard"]["url"] == f"{CONSOLE}/console/"  # a ticket_id without a scenario


def test_card_fields_are_cut_to_wecom_byte_limits(db, clock, worker, wecom: FakeWecom, settings_override,
                                                  tmp_path):
    long_title = "关于小区东门外人行道路灯连续多日不亮的紧急督办提醒" * 3  # 75 characters, 225 bytes
    templates = tmp_path / "templates.json"
    templates.write_text(json.dumps({RECEIVED: {"title": "新工单提醒", "wecom": {
        "title": long_title, "lines": [["工单编号", "ticket_no"], ["进展", "note"], ["时间", "at", "time"]]}}}))
    settings_override(NOTIFY_TEMPLATES_FILE=str(templates))
    account_id = staff(db, clock, wecom)
    note = "楼道<积水>&漏电" + "👩‍👩‍👧" * 200  # markup to escape, then ZWJ sequences (18 bytes each)
    send(db, clock, account_id, payload={**PAYLOAD, "note": note})
    worker.run_once()
    assert row(db).state == "sent"  # the fake refuses a title over 128 or a description over 512 bytes
    card = wecom.sent[0]["textcard"]
    title, description = card["title"], card["description"]
    assert len(title.encode()) <= TITLE_MAX_BYTES and len(title.encode()) > TITLE_MAX_BYTES - 6
    assert title.endswith("…") and long_title.startswith(title[:-1])
    assert len(description.encode()) <= DESCRIPTION_MAX_BYTES
    assert len(description.encode()) > DESCRIPTION_MAX_BYTES - 24  # filled, not cut a line early
    assert description.startswith('<div class="normal">工单编号：T20261102-0042</div>'
                                  '<div class="normal">进展：楼道&lt;积水&gt;&amp;漏电👩‍👩‍👧')
    assert description.endswith("👩‍👩‍👧…</div>")  # a whole family, the ellipsis, the markup kept
    assert "时间" not in description  # the lines after a cut one are left out


# ---------------------------------------------------------------- the token


def test_one_gettoken_for_many_sends(db, clock, worker, wecom: FakeWecom):
    ids = [staff(db, clock, wecom, userid=f"user{i}") for i in range(5)]
    with db.transaction() as s:
        enqueue(s, event_key="wf:42:created", template=RECEIVED, recipients=[Recipient.account(a) for a in ids],
                clock=clock, payload=PAYLOAD, channel="wecom")
    worker.run_once()
    clock.advance(minutes=30)
    send(db, clock, ids[0], key="wf:43:created")
    worker.run_once()
    assert len(wecom.sent) == 6 and wecom.token_calls == 1
    assert set(sends(wecom)) == {wecom.current}


def test_an_expired_token_is_fetched_again_once_and_the_card_sent(db, clock, worker, wecom: FakeWecom):
    account_id = staff(db, clock, wecom)
    send(db, clock, account_id, key="wf:1:created")
    worker.run_once()
    old = wecom.current
    wecom.expire_current()  # WeCom answers 42001 to it from now on
    send(db, clock, account_id, key="wf:2:created")
    worker.run_once()
    message = row(db, "wf:2:created")
    assert message.state == "sent" and message.attempts == 1  # in the same delivery
    assert wecom.token_calls == 2 and wecom.current != old
    assert sends(wecom)[-2:] == [old, wecom.current]


def test_a_revoked_token_is_fetched_again_once_and_the_card_sent(db, clock, worker, wecom: FakeWecom):
    account_id = staff(db, clock, wecom)
    send(db, clock, account_id, key="wf:1:created")
    worker.run_once()
    wecom.revoke_current()  # WeCom invalidated it early: 40014
    send(db, clock, account_id, key="wf:2:created")
    worker.run_once()
    assert row(db, "wf:2:created").state == "sent" and wecom.token_calls == 2 and len(wecom.sent) == 2


def test_a_token_rejected_again_after_the_refetch_is_retried_later(db, clock, worker, wecom: FakeWecom):
    account_id = staff(db, clock, wecom)
    send(db, clock, account_id, key="wf:1:created")
    worker.run_once()
    wecom.expire_current()
    wecom.script = [42001]  # the fresh token is rejected too
    send(db, clock, account_id, key="wf:2:created")
    worker.run_once()
    message = row(db, "wf:2:created")
    assert message.state == "pending" and "after a refetch" in message.last_error
    assert wecom.token_calls == 2 and len(sends(wecom)) == 3  # one refetch, one resend: no loop
    clock.advance(seconds=15)
    worker.run_once()
    assert row(db, "wf:2:created").state == "sent"


def test_a_rejected_token_that_gettoken_hands_back_is_not_resent(db, clock, worker, wecom: FakeWecom):
    account_id = staff(db, clock, wecom)
    wecom.script = [40014]  # rejected, yet WeCom still hands the same token out
    send(db, clock, account_id)
    worker.run_once()
    message = row(db)
    assert message.state == "pending" and "gave it back" in message.last_error
    assert wecom.token_calls == 2 and len(sends(wecom)) == 1


# ---------------------------------------------------------------- answers


@pytest.mark.parametrize("step", ["unknown", "invaliduser", 40003, 60111, 81013, "unlicensed"])
def test_an_invalid_user_fails_for_good(db, clock, worker, wecom: FakeWecom, step):
    account_id = staff(db, clock, wecom, known=step != "unknown")
    if step != "unknown":
        wecom.script = [step]
    send(db, clock, account_id)
    worker.run_once()
    clock.advance(hours=2)
    worker.run_once()
    message = row(db)
    assert message.state == "failed" and message.attempts == 1
    expected = "without a licence" if step == "unlicensed" else "invalid WeCom user"
    assert expected in message.last_error
    assert len(sends(wecom)) == 1 and wecom.sent == []


@pytest.mark.parametrize("step, error", [(45009, "frequency limit"), (45033, "frequency limit"), (-1, "busy"),
                                         ("http500", "HTTP 500"), ("slow", "timeout"), (48002, "errcode 48002")])
def test_limits_outages_and_other_errors_are_retried_with_backoff(db, clock, worker, wecom: FakeWecom, step, error):
    account_id = staff(db, clock, wecom)
    wecom.script = [step]
    send(db, clock, account_id)
    worker.run_once()
    message = row(db)
    assert message.state == "pending" and message.attempts == 1 and error.lower() in message.last_error.lower()
    worker.run_once()  # not due yet
    assert row(db).attempts == 1
    clock.advance(seconds=15)
    worker.run_once()
    message = row(db)
    assert message.state == "sent" and message.attempts == 2 and message.last_error is None
    assert len(wecom.sent) == 1


def test_an_outage_opens_the_breaker_and_the_queue_drains_after_it(db, clock, worker, wecom: FakeWecom):
    ids = [staff(db, clock, wecom, userid=f"user{i}") for i in range(12)]
    with db.transaction() as s:
        wecom_api().tokens.token(s)  # the token was fetched before WeCom went down
    wecom.outage = True
    with db.transaction() as s:
        enqueue(s, event_key="burst", template=RECEIVED, recipients=[Recipient.account(a) for a in ids],
                clock=clock, payload=PAYLOAD, channel="wecom")
    worker.run_once()
    assert len(wecom.api_calls) == 5  # five outages open the breaker; the other seven fail fast
    with db.transaction() as s:
        errors = s.scalars(sa.select(OutboxMessage.last_error).where(OutboxMessage.event_key == "burst")).all()
        states = set(s.scalars(sa.select(OutboxMessage.state).where(OutboxMessage.event_key == "burst")))
    assert states == {"pending"} and errors.count("circuit open") == 7
    wecom.outage = False
    clock.advance(seconds=30)  # the breaker half-opens; the rows are due again
    worker.run_once()
    with db.transaction() as s:
        assert count(s, OutboxMessage, OutboxMessage.event_key == "burst", OutboxMessage.state == "sent") == 12
    assert sorted(m["touser"] for m in wecom.sent) == sorted(f"user{i}" for i in range(12))


def test_no_token_during_an_outage_is_retried(db, clock, worker, wecom: FakeWecom):
    account_id = staff(db, clock, wecom)
    wecom.outage = True  # gettoken answers -1
    send(db, clock, account_id)
    worker.run_once()
    message = row(db)
    assert message.state == "pending" and "gettoken" in message.last_error and wecom.sent == []
    wecom.outage = False
    clock.advance(seconds=30)
    worker.run_once()
    assert row(db).state == "sent"


# ---------------------------------------------------------------- recipients


@pytest.mark.parametrize("how", ["no contact row", "no userid", "blank userid"])
def test_no_wecom_id_fails_without_asking_wecom(db, clock, worker, wecom: FakeWecom, how):
    userid = {"no contact row": "x", "no userid": None, "blank userid": "  "}[how]
    account_id = staff(db, clock, wecom, userid=userid, contact=how != "no contact row", known=False)
    send(db, clock, account_id)
    worker.run_once()
    message = row(db)
    assert message.state == "failed" and message.last_error == "no WeCom id"
    assert wecom.api_calls == [] and wecom.token_calls == 0


@pytest.mark.parametrize("userid", ["@all", "@ALL", "zhang|li", "张三", "-x"])
def test_a_userid_naming_several_users_or_none_is_never_sent(db, clock, worker, wecom: FakeWecom, userid):
    account_id = staff(db, clock, wecom, userid=userid)
    send(db, clock, account_id)
    worker.run_once()
    assert row(db).state == "failed" and row(db).last_error == "invalid WeCom id"
    assert wecom.api_calls == []


def test_urgent_without_wecom_id_falls_back_to_sms(db, clock, worker, wecom: FakeWecom):
    account_id = staff(db, clock, wecom, userid=None)
    send(db, clock, account_id, key="wf:42:esc:0:1", template="ticket_escalated", urgent=True,
         payload={**PAYLOAD, "level": 1})
    send(db, clock, account_id, key="wf:42:created")  # not urgent: no fallback
    worker.run_once()
    assert row(db, "wf:42:esc:0:1").state == "failed"
    sms = row(db, "wf:42:esc:0:1", channel="sms")
    assert sms.urgent and sms.recipient_id == str(account_id)
    with db.transaction() as s:
        assert count(s, OutboxMessage, OutboxMessage.event_key == "wf:42:created") == 1


def test_an_organisation_recipient_is_skipped(db, clock, worker, wecom: FakeWecom):
    send(db, clock, Recipient("org", 77), urgent=True)
    worker.run_once()
    message = row(db)
    assert message.state == "skipped" and message.last_error == "no staff to reach"
    assert wecom.api_calls == [] and wecom.token_calls == 0
    with db.transaction() as s:  # skipped is not a failure: no SMS either
        assert count(s, OutboxMessage, OutboxMessage.event_key == "wf:42:created") == 1


@pytest.mark.parametrize("status", ["disabled", "deleted"])
def test_an_inactive_account_is_skipped(db, clock, worker, wecom: FakeWecom, status):
    account_id = staff(db, clock, wecom, status=status)
    send(db, clock, account_id)
    worker.run_once()
    assert row(db).state == "skipped" and wecom.api_calls == []


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize("unset", ["WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET", "CONSOLE_BASE_URL"])
def test_unconfigured_fails_with_a_clear_detail(db, clock, worker, wecom: FakeWecom, settings_override, unset):
    settings_override(**{unset: ""})
    account_id = staff(db, clock, wecom)
    send(db, clock, account_id)
    worker.run_once()
    message = row(db)
    assert message.state == "failed" and message.last_error == f"WeCom not configured: {unset} not set"
    assert wecom.token_calls == 0 and wecom.api_calls == []


@pytest.mark.parametrize("setting", [{"WECOM_AGENT_ID": "abc"}, {"CONSOLE_BASE_URL": "jsq.jinshan.example"},
                                     {"WECOM_TIMEOUT_SECONDS": "soon"}])
def test_malformed_settings_fail_the_row_not_the_worker(db, clock, worker, wecom: FakeWecom, settings_override,
                                                        setting):
    settings_override(**setting)
    account_id = staff(db, clock, wecom)
    send(db, clock, account_id)
    worker.run_once()
    message = row(db)
    assert message.state == "failed" and message.last_error.startswith("WeCom not configured: ")
    assert wecom.api_calls == []


def test_a_wrong_secret_is_retried_not_sent(db, clock, worker, wecom: FakeWecom, settings_override):
    settings_override(WECOM_SECRET="not-the-secret")
    account_id = staff(db, clock, wecom)
    send(db, clock, account_id)
    worker.run_once()
    message = row(db)
    assert message.state == "pending" and message.last_error == "gettoken: errcode 40001"
    assert wecom.api_calls == []


# ---------------------------------------------------------------- records


def test_one_log_line_per_delivery_without_the_userid(db, clock, worker, wecom: FakeWecom, caplog):
    account_id = staff(db, clock, wecom, userid="wang.xiaoming")
    no_id = staff(db, clock, wecom, userid=None)
    with db.transaction() as s:
        enqueue(s, event_key="wf:42:created", template=RECEIVED, clock=clock, payload=PAYLOAD, channel="wecom",
                recipients=[Recipient.account(account_id), Recipient.account(no_id)])
    with caplog.at_level(logging.INFO, logger="app.wecom"):
        worker.run_once()
    lines = [r for r in caplog.records if r.getMessage() == "wecom delivery"]
    by_recipient = {r.recipient: r for r in lines}
    assert len(lines) == 2 and set(by_recipient) == {f"account:{account_id}", f"account:{no_id}"}
    sent, failed = by_recipient[f"account:{account_id}"], by_recipient[f"account:{no_id}"]
    assert sent.outcome == "sent" and sent.outbox_id == row(db).id and sent.template == RECEIVED
    assert failed.outcome == "failed" and failed.detail == "no WeCom id"
    assert not any("wang.xiaoming" in json.dumps(vars(r), default=str) for r in caplog.records)


def test_a_lost_answer_sends_the_card_again(db, clock, worker, wecom: FakeWecom):
    """WeCom took the card but its answer came after our timeout: the retry sends it again
    (at least once, as documented)."""
    account_id = staff(db, clock, wecom)
    wecom.script = ["lost"]
    send(db, clock, account_id)
    worker.run_once()
    assert row(db).state == "pending" and len(wecom.sent) == 1
    clock.advance(seconds=15)
    worker.run_once()
    assert row(db).state == "sent" and len(wecom.sent) == 2 and wecom.sent[0] == wecom.sent[1]
    time.sleep(0.7)  # let the fake finish its late answer (the fixture waits for it too)
