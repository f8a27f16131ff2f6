"""discharge-summary (电子出院小结 / 诊后管理, L9, L10) end to end: a clerk uploads a checked PDF and
publishes a summary; the patient and a carer read it, staff reads are audited, anyone else gets
a 404; the PDF comes through a signed URL as an attachment; follow-ups are tickets of the
follow-up team due on their dates, and a missed one reaches the department head."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfWriter

from app.fields import CST
from auth.models import AuditEntry, PersonRelation
from scenarios.discharge_summary.models import DsSummary
from tests.support.factories import make_resident
from tests.support.reports import get, people, post
from tests.support.workflow import events, outbox, run_worker, ticket_row

pytestmark = pytest.mark.usefixtures("ctx")

BASE = "/api/v1/discharge-summary"
FUDAN = "310116-hosp-fudan-jinshan"
TINGLIN = "310116-hosp-tinglin"
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=CST)
PATIENT_ID = "310116195001011230"


def a_pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def ds(app, session, clock):
    clock.set(MONDAY_10.astimezone(UTC))
    wf = people(session, clock, staff={
        "clerk": (FUDAN, "clerk"), "doctor": (FUDAN, "doctor"), "nurse": (FUDAN, "followup"),
        "head": (FUDAN, "department_head"), "other_clerk": (TINGLIN, "clerk"),
    }, residents=["stranger"])
    wf.accounts["patient"] = make_resident(session, name="张病人", id_no=PATIENT_ID, level="verified")
    wf.accounts["carer"] = make_resident(session, name="张女儿")
    session.add(PersonRelation(from_person_id=wf.accounts["carer"].person_id,
                               to_person_id=wf.accounts["patient"].person_id, kind="family",
                               allows=["book_medical"], status="confirmed", created_at=clock.now()))
    session.commit()
    return wf


def upload(client, wf, who="clerk", data: bytes | None = None, expect=201) -> dict:
    resp = client.post(f"{BASE}/files", data={"file": (io.BytesIO(a_pdf() if data is None else data), "s.pdf")},
                       headers=wf.token(who), content_type="multipart/form-data")
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()


def publish(client, wf, who="clerk", expect=201, **extra) -> dict:
    body = {"patient_id_number": PATIENT_ID, "department": "内科", "discharged_on": "2026-12-06",
            "diagnosis": "2型糖尿病", "advice": "低糖饮食", "medicines": [{"name": "二甲双胍片", "dose": "0.5g bid",
                                                                             "days": 14}],
            "follow_ups": [{"kind": "call", "due_at": "2026-12-10T10:00:00+08:00", "note": "问血糖"}], **extra}
    return post(client, wf, who, f"{BASE}/summaries", body, expect=expect)


def test_publish_read_by_patient_and_carer_and_nobody_else(client, ds, session):
    f = upload(client, ds)
    s = publish(client, ds, file_id=f["id"])
    assert s["diagnosis"] == "2型糖尿病" and s["patient"]["name"] == "张**"
    raw = session.execute(sa.text("SELECT diagnosis, medicines_json FROM ds_summaries WHERE id = :i"),
                          {"i": s["id"]}).one()
    assert "糖尿病" not in raw[0] and "二甲双胍" not in raw[1]  # health data encrypted at rest
    for who in ("patient", "carer"):
        seen = get(client, ds, who, f"{BASE}/summaries/{s['id']}")
        assert seen["medicines"][0]["name"] == "二甲双胍片" and seen["file"]["pages"] == 1
    mine = get(client, ds, "patient", f"{BASE}/me/summaries")
    assert [i["id"] for i in mine["items"]] == [s["id"]]
    assert get(client, ds, "carer", f"{BASE}/me/summaries")["total"] == 0
    # an unrelated patient, another hospital's staff: the answer of a summary that does not exist
    missing = get(client, ds, "stranger", f"{BASE}/summaries/999999", expect=404)
    hidden = get(client, ds, "stranger", f"{BASE}/summaries/{s['id']}", expect=404)
    assert {**hidden, "request_id": None} == {**missing, "request_id": None}
    get(client, ds, "other_clerk", f"{BASE}/summaries/{s['id']}", expect=404)
    # the patient was told, without health data in the notice
    session.expire_all()
    from app.notify.models import OutboxMessage
    told = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "discharge_summary_published"))
    told = list(told)
    assert [m.recipient_id for m in told] == [str(ds.id("patient"))]
    assert "糖尿病" not in str(told[0].payload)


def test_every_staff_read_is_audited(client, ds, session):
    s = publish(client, ds)
    before = session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    get(client, ds, "nurse", f"{BASE}/summaries/{s['id']}")
    get(client, ds, "doctor", f"{BASE}/summaries/{s['id']}")
    session.expire_all()
    entries = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(2)).all()
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == before + 2
    assert {e.actor_account_id for e in entries} == {ds.id("nurse"), ds.id("doctor")}
    assert all(e.action == "read_discharge_summary" and e.subject_person_id == ds.accounts["patient"].person_id
               for e in entries)
    get(client, ds, "patient", f"{BASE}/summaries/{s['id']}")
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == before + 2  # the patient's: not


def test_the_pdf_through_a_signed_url_as_an_attachment(client, ds, clock):
    f = upload(client, ds, data=a_pdf(3))
    assert f["pages"] == 3
    url = publish(client, ds, file_id=f["id"])["file"]["url"]
    resp = client.get(url)
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF-")
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(url.replace("sig=", "sig=x")).status_code == 403
    clock.advance(minutes=16)
    assert client.get(url).get_json()["code"] == "url_expired"


def test_not_a_pdf_is_415_a_broken_one_422_and_nothing_is_kept(client, ds, session):
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    assert upload(client, ds, data=png, expect=415)["code"] == "unsupported_media_type"
    assert upload(client, ds, data=b"<html><script>alert(1)</script>", expect=415)["code"] == "unsupported_media_type"
    assert upload(client, ds, data=b"%PDF-1.7\n garbage", expect=422)["code"] == "pdf_invalid"
    assert upload(client, ds, data=a_pdf()[:200], expect=422)["code"] == "pdf_invalid"
    assert upload(client, ds, data=b"%PDF-" + b"0" * (10 * 1024 * 1024), expect=413)["code"] == "payload_too_large"
    assert session.scalar(sa.text("SELECT count(*) FROM ds_files")) == 0
    upload(client, ds, "patient", expect=403)
    upload(client, ds, "nurse", expect=403)  # the follow-up team does not publish


def test_bad_input_is_a_clear_4xx(client, ds):
    assert publish(client, ds, patient_id_number="310116195001011249", expect=422)["code"] == "patient_unknown"
    assert "patient_id_number" in publish(client, ds, patient_id_number="abc", expect=422)["errors"]
    r = publish(client, ds, follow_ups=[{"kind": "call", "due_at": "2026-12-01T10:00:00+08:00"}], expect=422)
    assert r["code"] == "follow_up_in_past" and "follow_ups.0.due_at" in r["errors"]
    assert "follow_ups.0.kind" in publish(client, ds, follow_ups=[{"kind": "x", "due_at": "2027-01-01T10:00:00+08:00"}],
                                          expect=422)["errors"]
    f = upload(client, ds, "other_clerk")
    assert "file_id" in publish(client, ds, file_id=f["id"], expect=422)["errors"]  # another hospital's PDF
    assert "diagnosis" in publish(client, ds, diagnosis="", expect=422)["errors"]


def test_a_follow_up_is_a_ticket_due_on_its_date_and_a_missed_one_reaches_the_department_head(
        client, ds, session, clock, db):
    s = publish(client, ds)
    ticket_id = s["follow_ups"][0]["ticket_number"] and session.get(DsSummary, s["id"]).follow_ups[0]["ticket_id"]
    t = ticket_row(session, ticket_id)
    assert (t.org_id, t.category, t.subject_person_id) == (ds.orgs["clerk"].id, "电话随访",
                                                           ds.accounts["patient"].person_id)
    assert t.resolution_due_at.astimezone(CST) == datetime(2026, 12, 10, 10, 0, tzinfo=CST)
    assert "血糖" not in t.text  # the clinical note stays in the encrypted summary
    queue = get(client, ds, "nurse", f"{BASE}/queue")
    assert [i["id"] for i in queue["items"]] == [ticket_id]
    post(client, ds, "nurse", f"{BASE}/tickets/{ticket_id}/acknowledge", {})
    clock.set((datetime(2026, 12, 10, 10, 0, tzinfo=CST) + timedelta(seconds=1)).astimezone(UTC))
    run_worker(db, clock)
    assert ticket_row(session, ticket_id).resolution_breached is True
    told = {r[2] for r in outbox(session, ticket_id) if r[0] != "wf.ticket_filed"}
    assert str(ds.id("head")) in told and str(ds.id("nurse")) not in told
    assert [e.action for e in events(session, ticket_id)][:2] == ["create", "acknowledge"]
    # a resident never files a follow-up; another hospital's clerk cannot name our summary
    post(client, ds, "patient", f"{BASE}/tickets", {"category": "电话随访", "text": "x", "summary_id": s["id"],
                                                    "due_at": "2027-01-01T10:00:00+08:00"}, expect=403)
    post(client, ds, "other_clerk", f"{BASE}/tickets", {"category": "电话随访", "text": "x", "summary_id": s["id"],
                                                        "due_at": "2027-01-01T10:00:00+08:00"}, expect=422)


def test_two_persons_found_to_be_one_keep_one_patients_summaries(client, ds, session, clock):
    from auth.accounts import merge_persons
    from auth.models import Person

    s = publish(client, ds)
    keep = session.get(Person, ds.accounts["stranger"].person_id)
    merge_persons(session, clock=clock, keep=keep, drop=session.get(Person, ds.accounts["patient"].person_id))
    session.commit()
    assert session.get(DsSummary, s["id"]).patient_person_id == keep.id
    assert [i["id"] for i in get(client, ds, "stranger", f"{BASE}/me/summaries")["items"]] == [s["id"]]
