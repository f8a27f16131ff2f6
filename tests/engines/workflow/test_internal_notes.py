"""Internal notes: a staff note for staff only. Staff see it marked ``internal``; the reporter
never gets it back, by any route (the ticket, the lists, the answers of their own actions, an
idempotent replay), nor its photos, nor a notice from it; only staff may write one."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.storage.models import Upload
from scenarios.engines.workflow import notifications
from scenarios.engines.workflow.models import TicketEvent
from tests.engines.workflow.scenario import BASE, CONFIG
from tests.support.workflow import act, events, get, report, ticket_row

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

SECRET = "内部备注：业主难沟通 SECRET-A"
OTHER_SECRET = "内部备注：另一张工单 SECRET-B"


def _upload(wf, owner: str, public_id: str) -> None:
    wf.session.add(Upload(public_id=public_id, owner_account_id=wf.id(owner), sha256="c" * 64,
                          content_type="image/jpeg", width=10, height=10, bytes=100, thumb_sha256="d" * 64,
                          thumb_content_type="image/jpeg", created_at=wf.clock.now()))
    wf.session.commit()


def _to(wf, who: str) -> list[str]:
    """Event keys of every notice for ``who``."""
    wf.session.expire_all()
    return list(wf.session.scalars(sa.select(OutboxMessage.event_key).where(
        OutboxMessage.recipient_kind == "account", OutboxMessage.recipient_id == str(wf.id(who)))
        .order_by(OutboxMessage.id)))


def _clean(resp) -> dict:
    """The answer, asserted free of every internal note's text (anywhere in the raw body)."""
    text = resp.get_data(as_text=True)
    assert "SECRET" not in text, text
    return resp.get_json()


def test_the_reporter_never_gets_an_internal_note_back(client, wf, clock):
    tid = report(client, wf, "alice")["id"]
    other = report(client, wf, "alice2")["id"]
    act(client, wf, "manager_a", tid, "acknowledge")
    _upload(wf, "manager_a", "manager-photo-00000001")
    act(client, wf, "manager_a", tid, "comments", {"text": "明天上午上门"})
    before = _to(wf, "alice")
    staff_answer = act(client, wf, "manager_a", tid, "comments",
                       {"text": SECRET, "internal": True, "photos": ["manager-photo-00000001"]})
    act(client, wf, "manager_a", other, "comments", {"text": OTHER_SECRET, "internal": True})
    assert _to(wf, "alice") == before  # no notice from an internal note

    # Staff: every event, internal ones marked; the photo; not the other ticket's note.
    assert staff_answer["events"][-1]["internal"] is True and staff_answer["events"][-1]["note"] == SECRET
    staff = get(client, wf, "manager_a", f"tickets/{tid}")
    assert [(e["action"], e["internal"]) for e in staff["events"]] == [
        ("create", False), ("acknowledge", False), ("comment", False), ("comment", True)]
    assert [p["id"] for p in staff["photos"]] == ["manager-photo-00000001"]
    assert OTHER_SECRET not in str(staff)
    assert events(wf.session, tid, "comment")[-1].internal is True

    # The reporter: the public note, not the internal one nor its photo.
    h = wf.token("alice")
    mine = _clean(client.get(f"{BASE}/tickets/{tid}", headers=h))
    assert [e["note"] for e in mine["events"] if e["action"] == "comment"] == ["明天上午上门"]
    assert all(e["internal"] is False for e in mine["events"]) and mine["photos"] == []
    assert _clean(client.get(f"{BASE}/tickets", headers=h))["total"] == 1
    assert _clean(client.get("/api/v1/me/tickets", headers=h))["total"] == 1
    assert client.get(f"{BASE}/tickets/{other}", headers=h).status_code == 404

    # The answers of the reporter's own actions, and their replays.
    keyed = {**h, "Idempotency-Key": "alice-comment-0001"}
    first = _clean(client.post(f"{BASE}/tickets/{tid}/comments", json={"text": "好的"}, headers=keyed))
    replay = client.post(f"{BASE}/tickets/{tid}/comments", json={"text": "好的"}, headers=keyed)
    assert replay.headers.get("Idempotent-Replayed") == "true" and _clean(replay) == first
    act(client, wf, "manager_a", tid, "request-info", {"note": "几点在家？"})
    act(client, wf, "manager_a", tid, "comments", {"text": "SECRET-C 再记一条", "internal": True})
    answered = _clean(client.post(f"{BASE}/tickets/{tid}/comments", json={"text": "下午在家"}, headers=h))
    assert answered["status"] == "acknowledged"  # the reporter's comment answered the question
    act(client, wf, "manager_a", tid, "resolve", {"note": "已修好"})
    rated = _clean(client.post(f"{BASE}/tickets/{tid}/rating", json={"rating": 5}, headers=h))
    reopened = _clean(client.post(f"{BASE}/tickets/{tid}/reopen", json={"reason": "又漏了"}, headers=h))
    assert rated["rating"] == 5 and reopened["status"] == "reopened"
    internal_ids = [e.id for e in events(wf.session, tid) if e.internal]
    assert len(internal_ids) == 2
    assert not [k for k in _to(wf, "alice") if any(k.startswith(f"wf:{tid}:ev:{i}") for i in internal_ids)]
    # A public staff note is still the reporter's to read (the filter is internal, not "staff").
    assert "几点在家？" in str(get(client, wf, "alice", f"tickets/{tid}"))


def test_only_staff_handling_the_ticket_write_internal_notes(client, wf):
    tid = report(client, wf, "alice")["id"]
    version = ticket_row(wf.session, tid).version
    body = act(client, wf, "alice", tid, "comments", {"text": "我也想写内部备注", "internal": True}, expect=422)
    assert body["code"] == "internal_note_staff_only" and "internal" in body["errors"]
    assert ticket_row(wf.session, tid).version == version and len(events(wf.session, tid)) == 1
    # Another resident learns nothing about the ticket (404 before the 422); staff who only see it: 403.
    assert act(client, wf, "bob", tid, "comments", {"text": "x", "internal": True}, expect=404)["code"] == "not_found"
    assert act(client, wf, "manager_b", tid, "comments", {"text": "x", "internal": True}, expect=404)
    assert act(client, wf, "supervisor", tid, "comments", {"text": "x", "internal": True}, expect=403)
    assert act(client, wf, "manager_a", tid, "comments", {"text": "x", "internal": "maybe"},
               expect=422)["errors"]["internal"]
    # Waiting for the reporter, an internal note of theirs does not slip through as their answer.
    act(client, wf, "manager_a", tid, "acknowledge")
    act(client, wf, "manager_a", tid, "request-info", {"note": "几点在家？"})
    act(client, wf, "alice", tid, "comments", {"text": "下午", "internal": True}, expect=422)
    assert ticket_row(wf.session, tid).status == "awaiting_reporter"
    # Staff notes are public unless said otherwise (the API stays compatible).
    act(client, wf, "tech_a", tid, "comments", {"text": "公开的说明"})
    assert [e["internal"] for e in get(client, wf, "alice", f"tickets/{tid}")["events"]][-1] is False


def test_an_internal_event_tells_the_reporter_nothing(wf, session, clock):
    """``announce`` drops the reporter from any internal event's notice (should one ever be told)."""
    tid = report_direct(wf)
    ticket = ticket_row(session, tid)
    event = TicketEvent(ticket_id=tid, at=clock.now(), actor_kind="staff", action="request_info", internal=True,
                        data={})
    session.add(event)
    session.flush()
    notifications.announce(session, clock, CONFIG, ticket, event)
    session.flush()
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.event_key == f"wf:{tid}:ev:{event.id}")) == 0
    public = TicketEvent(ticket_id=tid, at=clock.now(), actor_kind="staff", action="request_info", internal=False,
                         data={})
    session.add(public)
    session.flush()
    notifications.announce(session, clock, CONFIG, ticket, public)
    session.flush()
    assert session.scalars(sa.select(OutboxMessage.recipient_id).where(
        OutboxMessage.event_key == f"wf:{tid}:ev:{public.id}")).all() == [str(wf.id("alice"))]


def report_direct(wf) -> int:
    from auth.principal import Principal
    from scenarios.engines.workflow import service as svc

    account = wf.accounts["alice"]
    created = svc.create(wf.session, clock=wf.clock, principal=Principal(
        "resident", account_id=account.id, person_id=account.person_id), config=CONFIG,
        data={"category": "水电", "text": "漏水"})
    wf.session.flush()
    return created.ticket.id
