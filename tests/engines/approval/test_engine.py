"""The approval engine through HTTP on its test scenario (``ap-test``): eligibility that explains
every refusal, review by the owning organisation (approve, reject with reasons, ask for more),
one decision only, the reviewer's deadline on the platform calendar fired by the worker, and
the decision history."""
from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from app.calendar import load_calendar_days
from app.fields import CST
from app.notify.models import OutboxMessage
from app.timers import Timer
from app.worker import Worker
from auth.models import Person
from tests.engines.approval.scenario import BASE, DECIDED
from tests.support.factories import bearer, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

WED_0930_10 = datetime(2026, 9, 30, 10, 0, tzinfo=CST)  # the day before the National Day holidays


@pytest.fixture
def w(wf, session, clock):
    DECIDED.clear()  # other tests' decisions (rolled back) may have used the same ids
    clock.set(WED_0930_10)
    load_calendar_days(session)
    for who in ("alice", "alice2"):
        session.get(Person, wf.accounts[who].person_id).real_name_level = "basic"
    session.commit()
    return wf


def h(wf, who):
    return bearer(token_for(wf.session, wf.clock, wf.accounts[who], wf.orgs.get(who)))


_keys = iter(range(10**6))


def apply(client, wf, who="alice", **form):
    data = {"org": wf.world.companies[0].code, "purpose": "办理许可", "household": 3, **form}
    return client.post(f"{BASE}/applications", json={"form": data},
                       headers={**h(wf, who), "Idempotency-Key": f"ap-key-{next(_keys):06d}"})


def act(client, wf, who, app_id, action, **payload):
    return client.post(f"{BASE}/applications/{app_id}/{action}", json=payload, headers=h(wf, who))


def worker(db, clock):
    return Worker(db, clock, worker_id="ap-test", periodic_jobs={}).run_once()


def test_apply_review_approve_once(client, w, session):
    resp = apply(client, w)
    assert resp.status_code == 201, resp.get_json()
    a = resp.get_json()
    # 16 working hours from Wednesday 10:00: 7 that day, none over 1–7 October, 8 on Thursday the 8th,
    # 1 on Friday the 9th
    assert a["state"] == "submitted" and a["review_due_at"] == "2026-10-09T10:00:00+08:00"
    assert a["mine"] and [d["action"] for d in a["history"]] == ["submit"]
    aid = a["id"]
    assert client.get(f"{BASE}/applications/{aid}", headers=h(w, "alice2")).status_code == 404
    assert client.get(f"{BASE}/applications/{aid}", headers=h(w, "manager_b")).status_code == 404
    assert act(client, w, "manager_b", aid, "approve").status_code == 404
    assert act(client, w, "tech_a", aid, "approve").status_code == 403  # sees it; not a reviewer role
    assert act(client, w, "alice", aid, "approve").status_code == 403
    queue = client.get(f"{BASE}/applications", headers=h(w, "manager_a")).get_json()
    assert [x["id"] for x in queue["items"]] == [aid]
    resp = act(client, w, "manager_a", aid, "approve", note="材料齐全")
    assert resp.status_code == 200 and resp.get_json()["state"] == "approved"
    again = act(client, w, "manager_a", aid, "reject", reasons=[{"reason": "x", "message": "晚了"}])
    assert again.status_code == 409 and again.get_json()["code"] == "application_state_changed"
    assert (aid, "approve") in DECIDED and (aid, "reject") not in DECIDED
    told = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "application_decided")).all()
    assert [(m.recipient_id, m.payload["outcome"]) for m in told] == [(str(w.accounts["alice"].id), "已批准")]
    timer = session.scalar(sa.select(Timer).where(Timer.subject_type == "ap_application", Timer.subject_id == str(aid)))
    assert timer.state == "cancelled"
    assert act(client, w, "alice", aid, "withdraw").status_code == 409


def test_a_refusal_names_every_failed_rule(client, w, session):
    session.get(Person, w.accounts["alice"].person_id).real_name_level = "none"
    session.commit()
    resp = apply(client, w, household=8)
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["code"] == "not_eligible"
    assert body["errors"] == {"applicant": ["申请人须先完成实名认证"], "form.household": ["家庭人数不能超过 6 人"]}
    bad = apply(client, w, "alice2", household="many")
    assert bad.status_code == 422 and "form.household" in bad.get_json()["errors"]
    assert apply(client, w, "alice2", org="nope").get_json()["errors"] == {"form.org": ["没有这个组织"]}
    assert client.post(f"{BASE}/applications", json={"form": {}}, headers=h(w, "manager_a")).status_code == 403


def test_ask_more_then_resubmit_then_reject_with_reasons(client, w, clock):
    aid = apply(client, w).get_json()["id"]
    assert act(client, w, "manager_a", aid, "ask-more").status_code == 422  # say what is missing
    resp = act(client, w, "manager_a", aid, "ask-more", note="请补充户口本")
    assert resp.get_json()["state"] == "more_info"
    assert act(client, w, "manager_a", aid, "approve").status_code == 409  # waiting for the applicant
    assert act(client, w, "alice2", aid, "resubmit", form={}).status_code == 404
    bad = act(client, w, "alice", aid, "resubmit", form={"org": w.world.companies[0].code, "purpose": "x",
                                                         "household": 9})
    assert bad.status_code == 422 and bad.get_json()["code"] == "not_eligible"
    clock.set(datetime(2026, 10, 12, 9, 0, tzinfo=CST))  # Monday
    resp = act(client, w, "alice", aid, "resubmit", form={"org": w.world.companies[0].code, "purpose": "补充了",
                                                          "household": 4})
    assert resp.get_json()["state"] == "submitted" and resp.get_json()["form"]["purpose"] == "补充了"
    assert resp.get_json()["review_due_at"] == "2026-10-13T17:00:00+08:00"  # the deadline restarts
    assert act(client, w, "manager_a", aid, "reject", reasons=[]).status_code == 422
    resp = act(client, w, "manager_a", aid, "reject", reasons=[{"reason": "docs", "message": "户口本不清晰"}])
    body = resp.get_json()
    assert body["state"] == "rejected" and body["reasons"] == [{"reason": "docs", "message": "户口本不清晰"}]
    assert [d["action"] for d in body["history"]] == ["submit", "ask_more", "resubmit", "reject"]


def test_a_resubmission_goes_to_the_reviewer_its_form_names_and_the_scenario_follows_it(client, w):
    aid = apply(client, w).get_json()["id"]
    act(client, w, "manager_a", aid, "ask-more", note="应由另一家公司审核")
    other = {"org": w.world.companies[1].code, "purpose": "改交B", "household": 2}
    assert act(client, w, "alice", aid, "resubmit", form=other).get_json()["state"] == "submitted"
    assert DECIDED[-2:] == [(aid, "ask_more"), (aid, "resubmit:改交B")]  # the loaded form, in that transaction
    assert act(client, w, "manager_a", aid, "approve").status_code == 404  # no longer company A's
    assert act(client, w, "manager_b", aid, "approve").get_json()["state"] == "approved"


def test_the_deadline_fires_once_and_only_while_waiting(client, w, db, clock, session):
    late = apply(client, w).get_json()["id"]
    decided = apply(client, w, "alice2").get_json()["id"]
    act(client, w, "manager_a", decided, "approve")
    clock.set(datetime(2026, 10, 9, 9, 59, tzinfo=CST))
    worker(db, clock)
    assert client.get(f"{BASE}/applications/{late}", headers=h(w, "alice")).get_json()["overdue"] is False
    clock.set(datetime(2026, 10, 9, 10, 1, tzinfo=CST))
    worker(db, clock)
    worker(db, clock)
    got = client.get(f"{BASE}/applications/{late}", headers=h(w, "manager_a")).get_json()
    assert got["overdue"] is True and [d["action"] for d in got["history"]] == ["submit", "overdue"]
    reminders = session.scalars(sa.select(OutboxMessage).where(
        OutboxMessage.template == "application_review_overdue")).all()
    assert [(m.recipient_kind, m.recipient_id) for m in reminders] == [("org", str(w.world.companies[0].id))]
    overdue = client.get(f"{BASE}/applications", headers=h(w, "manager_a"), query_string={"overdue": "true"})
    assert [x["id"] for x in overdue.get_json()["items"]] == [late]
    assert client.get(f"{BASE}/applications/{decided}", headers=h(w, "alice2")).get_json()["overdue"] is False
