"""Who is coming and when: the assigned technician as the reporter sees them (the name residents
see, else the role's title; the verified work phone in full until the ticket is final), the
appointment (set with ``assign`` or its own action; the reporter is told), and the staff view's
link to the reporter's residence (for the audited reveal)."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from auth.contacts import StaffContact
from tests.support.workflow import act, add_residence, events, get, outbox, report, ticket_row

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

WORK_PHONE = "13800138000"


def contact(wf, who: str, *, name: str | None = "张师傅", mobile: str | None = WORK_PHONE,
            verified: bool = True) -> None:
    row = StaffContact(account_id=wf.id(who), display_name=name, updated_at=wf.clock.now())
    if mobile:
        row.set_mobile(mobile)
        row.mobile_verified_at = wf.clock.now() if verified else None
    wf.session.add(row)
    wf.session.commit()


# ---------------------------------------------------------------- who is coming


def test_the_reporter_sees_who_is_coming_and_calls_them_until_the_ticket_is_final(client, wf):
    contact(wf, "tech_a")
    tid = report(client, wf, "alice")["id"]
    assert get(client, wf, "alice", f"tickets/{tid}")["assignee"] is None
    act(client, wf, "manager_a", tid, "assign", {"assignee_account_id": wf.id("tech_a")})
    assert get(client, wf, "alice", f"tickets/{tid}")["assignee"] == {
        "name": "张师傅", "title": "维修工", "phone": WORK_PHONE}
    # Staff see the name and a masked number; nobody sees another ticket's technician.
    assert get(client, wf, "manager_a", f"tickets/{tid}")["assignee"]["phone"] == "138****8000"
    assert get(client, wf, "bob", f"tickets/{tid}", expect=404)
    act(client, wf, "tech_a", tid, "start")
    resolved = act(client, wf, "tech_a", tid, "resolve", {"note": "换了阀门"})
    assert resolved["assignee"]["phone"] == "138****8000"  # the answer to staff
    assert get(client, wf, "alice", f"tickets/{tid}")["assignee"]["phone"] == WORK_PHONE  # not final yet
    closed = act(client, wf, "alice", tid, "confirm")
    assert closed["status"] == "closed" and closed["assignee"] == {"name": "张师傅", "title": "维修工",
                                                                   "phone": "138****8000"}


def test_without_a_name_or_a_verified_phone(client, wf):
    contact(wf, "tech_a2", name=None, verified=False)
    tid = report(client, wf, "alice")["id"]
    act(client, wf, "manager_a", tid, "assign", {"assignee_account_id": wf.id("tech_a2")})
    assert get(client, wf, "alice", f"tickets/{tid}")["assignee"] == {"name": "维修工", "title": "维修工",
                                                                        "phone": None}
    other = report(client, wf, "alice2")["id"]
    body = act(client, wf, "manager_a", other, "assign", {"assignee_account_id": wf.id("tech_a")})  # no contact
    assert body["assignee"] == {"name": "维修工", "title": "维修工", "phone": None}


# ---------------------------------------------------------------- the appointment


def test_appointment_with_the_assignment_and_changed_later(client, wf, clock):
    tid = report(client, wf, "alice")["id"]
    body = act(client, wf, "manager_a", tid, "assign", {"assignee_account_id": wf.id("tech_a"),
                                                         "appointment_at": "2026-11-02T14:00:00+08:00"})
    assert body["appointment_at"] == "2026-11-02T14:00:00+08:00"
    assert body["events"][-1]["data"]["appointment_at"] == "2026-11-02T06:00:00+00:00"
    mine = get(client, wf, "alice", f"tickets/{tid}")
    assert mine["appointment_at"] == "2026-11-02T14:00:00+08:00"
    assert get(client, wf, "alice", "tickets")["items"][0]["appointment_at"] == "2026-11-02T14:00:00+08:00"
    assert get(client, wf, "manager_a", "queue")["items"][0]["appointment_at"] == "2026-11-02T14:00:00+08:00"
    alice = ("wf.appointment_set", "account", str(wf.id("alice")))
    assert outbox(wf.session, tid, "wf.appointment_set") == [alice]

    clock.advance(hours=1)
    changed = act(client, wf, "tech_a", tid, "appointment",
                  {"appointment_at": "2026-11-03T09:30:00+08:00", "note": "明早九点半到"})
    assert changed["appointment_at"] == "2026-11-03T09:30:00+08:00"
    event = changed["events"][-1]
    assert (event["action"], event["note"], event["internal"]) == ("appointment", "明早九点半到", False)
    assert event["data"] == {"appointment_at": "2026-11-03T01:30:00+00:00", "previous": "2026-11-02T06:00:00+00:00"}
    assert "明早九点半到" in str(get(client, wf, "alice", f"tickets/{tid}"))
    assert outbox(wf.session, tid, "wf.appointment_set") == [alice, alice]
    # The notice names the time, and no one.
    payload = wf.session.scalars(sa.select(OutboxMessage.payload).where(
        OutboxMessage.template == "wf.appointment_set").order_by(OutboxMessage.id.desc())).first()
    assert payload["appointment_at"] == "2026-11-03T01:30:00+00:00" and payload["ticket_id"] == tid
    assert "明早" not in str(payload) and "张" not in str(payload)
    # The same time again changes nothing and tells no one.
    before = len(events(wf.session, tid))
    act(client, wf, "manager_a", tid, "appointment", {"appointment_at": "2026-11-03T01:30:00Z"})
    assert len(events(wf.session, tid)) == before and len(outbox(wf.session, tid, "wf.appointment_set")) == 2


@pytest.mark.parametrize(("value", "code"), [
    ("2026-11-02T08:59:00+08:00", "appointment_in_past"),  # a minute ago
    ("2027-03-01T09:00:00+08:00", "appointment_too_far"),  # more than 90 days ahead
    ("2026-11-02T14:00:00", "validation_error"),  # naive
    ("tomorrow afternoon", "validation_error"),
    (None, "validation_error"),
    (1762063200, "validation_error"),
])
def test_appointment_refusals(client, wf, value, code):
    tid = report(client, wf, "alice")["id"]
    body = act(client, wf, "manager_a", tid, "appointment", {"appointment_at": value}, expect=422)
    assert body["code"] == code and list(body["errors"]) == ["appointment_at"]
    if value is not None:  # null with the assignment is no appointment (the next test)
        body = act(client, wf, "manager_a", tid, "assign", {"assignee_account_id": wf.id("tech_a"),
                                                             "appointment_at": value}, expect=422)
        assert body["code"] == code and list(body["errors"]) == ["appointment_at"]
    row = ticket_row(wf.session, tid)
    assert (row.status, row.assignee_account_id, row.appointment_at) == ("submitted", None, None)
    assert outbox(wf.session, tid, "wf.appointment_set") == []


def test_appointment_null_with_the_assignment_is_no_appointment(client, wf):
    tid = report(client, wf, "alice")["id"]
    body = act(client, wf, "manager_a", tid, "assign", {"assignee_account_id": wf.id("tech_a"),
                                                         "appointment_at": None})
    assert body["status"] == "assigned" and body["appointment_at"] is None
    assert outbox(wf.session, tid, "wf.appointment_set") == []


def test_appointment_who_and_when(client, wf):
    tid = report(client, wf, "alice")["id"]
    good = {"appointment_at": "2026-11-02T14:00:00+08:00"}
    assert act(client, wf, "manager_b", tid, "appointment", good, expect=404)["code"] == "not_found"
    assert act(client, wf, "bob", tid, "appointment", good, expect=404)["code"] == "not_found"
    assert act(client, wf, "alice", tid, "appointment", good, expect=403)["code"] == "forbidden"
    assert act(client, wf, "supervisor", tid, "appointment", good, expect=403)["code"] == "forbidden"
    assert act(client, wf, "admin", tid, "appointment", good, expect=403)["code"] == "forbidden"
    assert "appointment" in get(client, wf, "tech_a", f"tickets/{tid}")["allowed_actions"]
    assert "appointment" not in get(client, wf, "alice", f"tickets/{tid}")["allowed_actions"]
    act(client, wf, "manager_a", tid, "resolve", {"note": "电话指导已解决"})
    assert act(client, wf, "manager_a", tid, "appointment", good, expect=409)["current_status"] == "resolved"
    assert ticket_row(wf.session, tid).appointment_at is None


# ---------------------------------------------------------------- the reporter's residence


def test_staff_view_links_the_residence_the_ticket_was_filed_from(client, wf, clock):
    # alice also lives in another room (verified later): the ticket from 302 links 302's residence.
    later = add_residence(wf.session, wf.accounts["alice"], wf.world.community, room="1203",
                          valid_from=date(2024, 1, 1))
    add_residence(wf.session, wf.accounts["alice2"], wf.world.community, room="302", status="claimed")
    wf.session.commit()
    tid = report(client, wf, "alice", community_code=wf.world.community.code)["id"]
    assert ticket_row(wf.session, tid).room == "302"
    staff = get(client, wf, "manager_a", f"tickets/{tid}")
    assert staff["reporter"]["residence_id"] == wf.residences["alice"].id != later.id
    assert staff["reporter"]["phone"] == "139****5678"
    assert get(client, wf, "alice", f"tickets/{tid}")["reporter"] is None
    # The link is what the audited reveal takes: the company in charge reads that residence.
    code = wf.world.companies[0].code
    resp = client.get(f"/api/v1/orgs/{code}/residences/{staff['reporter']['residence_id']}",
                      headers=wf.token("manager_a"))
    assert resp.status_code == 200 and resp.get_json()["room"] == "302"
    # A residence that has ended since is still the one the ticket was filed from; one no longer
    # verified is not linked.
    wf.residences["alice"].valid_to = date(2026, 11, 1)
    wf.session.commit()
    assert get(client, wf, "manager_a", f"tickets/{tid}")["reporter"]["residence_id"] == wf.residences["alice"].id
    wf.residences["alice"].status = "rejected"
    wf.session.commit()
    assert get(client, wf, "manager_a", f"tickets/{tid}")["reporter"]["residence_id"] is None
