"""online-consult (互联网医院 复诊续方, L11) end to end: a verified patient seen at the hospital before
(the booking engine's record) asks its department for a renewal; the doctor answers within 2
working hours on a thread, renews within each medicine's limits or asks the patient in; the
renewal is a single-use `prescription` pass a pharmacy scanner verifies once."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.fields import CST
from auth.devices import create_device
from auth.models import AuditEntry
from scenarios.engines.booking.models import BkBooking, BkResource, BkSlot
from scenarios.online_consult.models import OcConsult, OcRenewal
from tests.support.factories import basic, make_resident
from tests.support.qr import keyring  # noqa: F401 (a fixture: one signing key for the passes)
from tests.support.reports import get, org, people, post
from tests.support.workflow import events, ticket_row

pytestmark = pytest.mark.usefixtures("ctx", "keyring")

BASE = "/api/v1/online-consult"
FUDAN = "310116-hosp-fudan-jinshan"
TINGLIN = "310116-hosp-tinglin"
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=CST)


def visit(session, clock, account, hospital: str, *, status: str = "checked_in", department: str = "内科",
          commit: bool = True) -> None:
    """A booking of ``account``'s person at ``hospital`` a month ago (the booking engine's row)."""
    owner = org(session, hospital)
    code = f"t-{hospital[-10:]}-{department}"
    resource = session.scalar(sa.select(BkResource).where(BkResource.code == code))
    if resource is None:
        resource = BkResource(scenario="hospital-appointment", code=code, name=f"{department} 王医生", kind="capacity",
                              owner_org_id=owner.id, address=owner.name, capacity=1, slot_minutes=15,
                              calendar="working_days", active=True, attributes={"department": department},
                              created_at=clock.now())
        session.add(resource)
        session.flush()
    taken = session.scalar(sa.select(sa.func.count()).select_from(BkSlot).where(BkSlot.resource_id == resource.id))
    seen = clock.now() - timedelta(days=30, minutes=15 * taken)
    slot = BkSlot(resource_id=resource.id, scenario="hospital-appointment", starts_at=seen,
                  ends_at=seen + timedelta(minutes=15), capacity=1, booked=1, held=0, status="open")
    session.add(slot)
    session.flush()
    session.add(BkBooking(scenario="hospital-appointment", resource_id=resource.id, slot_id=slot.id,
                          person_id=account.person_id, booker_person_id=account.person_id, booker_account_id=account.id,
                          units=1, places=1, whole_unit=False, status=status, checked_in=int(status == "checked_in"),
                          created_at=seen, updated_at=seen, confirmed_at=seen))
    session.commit() if commit else session.flush()


@pytest.fixture
def oc(app, session, clock):
    clock.set(MONDAY_10.astimezone(UTC))
    wf = people(session, clock, staff={
        "doctor": (FUDAN, "doctor"), "head": (FUDAN, "department_head"), "clerk": (FUDAN, "clerk"),
        "other_doctor": (TINGLIN, "doctor"),
    }, residents=["stranger"])
    wf.accounts["patient"] = make_resident(session, name="李患者", id_no="310116196001011235", level="verified")
    wf.accounts["unverified"] = make_resident(session, name="王未认证", id_no="31011619700101123X")
    session.commit()
    visit(session, clock, wf.accounts["patient"], FUDAN)
    visit(session, clock, wf.accounts["unverified"], FUDAN)
    device, secret = create_device(session, org=org(session, FUDAN), kind="scanner", name="门诊药房扫码枪")
    session.commit()
    wf.extra = {"pharmacy": basic(device.uid, secret)}
    return wf


def ask(client, wf, who="patient", expect=201, **extra) -> dict:
    body = {"category": "复诊续方", "text": "高血压复诊续方", "hospital": FUDAN, "department": "内科",
            "symptoms": "血压平稳 130/80，无头晕", "renew": [{"medicine": "氨氯地平片", "dose": "5mg qd"}], **extra}
    return post(client, wf, who, f"{BASE}/tickets", body, expect=expect)


def act(client, wf, who, tid, action, body=None, expect=200) -> dict:
    return post(client, wf, who, f"{BASE}/tickets/{tid}/{action}", body, expect=expect)


RENEWAL = {"items": [{"medicine": "氨氯地平片", "dose": "5mg 每日一次", "quantity": 4, "days": 28}]}


def test_asked_answered_on_a_thread_renewed_and_the_pass_verified_once(client, oc, session, clock):
    t = ask(client, oc)
    assert t["org"]["code"] == FUDAN and t["status"] == "submitted"
    row = ticket_row(session, t["id"])
    # 2 working hours from Monday 10:00
    assert row.response_due_at.astimezone(CST) == datetime(2026, 12, 7, 12, 0, tzinfo=CST)
    raw = session.execute(sa.text("SELECT symptoms, requested_json FROM oc_consults WHERE ticket_id = :i"),
                          {"i": t["id"]}).one()
    assert "130/80" not in raw[0] and "氨氯地平" not in raw[1]  # encrypted at rest
    assert "130/80" not in str(t)
    # the doctor reads the request (audited) and asks on the thread; the patient answers
    before = session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    req = get(client, oc, "doctor", f"{BASE}/tickets/{t['id']}/request")
    assert req["symptoms"] == "血压平稳 130/80，无头晕" and req["renew"][0]["medicine"] == "氨氯地平片"
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == before + 1
    act(client, oc, "doctor", t["id"], "comments", {"text": "最近有没有脚踝水肿？"})
    act(client, oc, "patient", t["id"], "comments", {"text": "没有"})
    act(client, oc, "doctor", t["id"], "renew", RENEWAL)
    assert ticket_row(session, t["id"]).status == "resolved"
    assert [e.action for e in events(session, t["id"])] == ["create", "comment", "comment", "renew"]
    got = get(client, oc, "patient", f"{BASE}/tickets/{t['id']}/prescription")
    assert got["outcome"] == "renewed" and got["items"] == RENEWAL["items"] and got["used"] is False
    token = got["pass"]["token"]
    # the pharmacy's scanner verifies it once
    r = client.post("/api/v1/qr/verify", json={"token": token}, headers=oc.extra["pharmacy"])
    assert r.status_code == 200 and r.get_json()["purpose"] == "prescription", r.get_json()
    again = client.post("/api/v1/qr/verify", json={"token": token}, headers=oc.extra["pharmacy"])
    assert again.status_code == 409 and again.get_json()["code"] == "qr_replayed"
    after = get(client, oc, "patient", f"{BASE}/tickets/{t['id']}/prescription")
    assert after["used"] is True and after["pass"] is None
    raw = session.execute(sa.text("SELECT items_json FROM oc_renewals")).scalar()
    assert "氨氯地平" not in raw


def test_no_prior_visit_no_consultation(client, oc, session, clock):
    r = ask(client, oc, hospital=TINGLIN, expect=409)
    assert r["code"] == "no_prior_visit" and "hospital" in r["errors"]
    # a booking never checked in is no visit
    visit(session, clock, oc.accounts["patient"], TINGLIN, status="confirmed")
    assert ask(client, oc, hospital=TINGLIN, expect=409)["code"] == "no_prior_visit"
    visit(session, clock, oc.accounts["patient"], TINGLIN)
    assert ask(client, oc, hospital=TINGLIN)["org"]["code"] == TINGLIN
    assert ask(client, oc, "stranger", expect=403)["code"] == "realname_required"
    assert ask(client, oc, "unverified", expect=403)["code"] == "realname_required"
    assert session.scalar(sa.select(sa.func.count()).select_from(OcConsult)) == 1


def test_bad_input_is_a_clear_4xx(client, oc):
    assert "department" in ask(client, oc, department="牙科", expect=422)["errors"]
    assert "hospital" in ask(client, oc, hospital="nope", expect=422)["errors"]
    assert "renew" in ask(client, oc, renew=[], expect=422)["errors"]
    assert "symptoms" in ask(client, oc, symptoms="", expect=422)["errors"]
    ask(client, oc, "doctor", expect=403)  # staff do not ask


def test_a_renewal_beyond_its_limit_is_refused_and_nothing_kept(client, oc, session):
    t = ask(client, oc)
    too_long = {"items": [{**RENEWAL["items"][0], "days": 31}]}
    r = act(client, oc, "doctor", t["id"], "renew", too_long, expect=422)
    assert r["code"] == "renewal_beyond_limit" and "items.0.days" in r["errors"]
    short = {"items": [{"medicine": "布洛芬缓释胶囊", "dose": "0.3g bid", "quantity": 1, "days": 8}]}
    assert act(client, oc, "doctor", t["id"], "renew", short, expect=422)["code"] == "renewal_beyond_limit"
    many = {"items": [{**RENEWAL["items"][0], "quantity": 7}]}
    assert "items.0.quantity" in act(client, oc, "doctor", t["id"], "renew", many, expect=422)["errors"]
    unknown = {"items": [{**RENEWAL["items"][0], "medicine": "吗啡片"}]}
    r = act(client, oc, "doctor", t["id"], "renew", unknown, expect=422)
    assert r["code"] == "unknown_medicine" and "items.0.medicine" in r["errors"]
    assert session.scalar(sa.select(sa.func.count()).select_from(OcRenewal)) == 0
    assert ticket_row(session, t["id"]).status == "submitted"
    act(client, oc, "doctor", t["id"], "renew", {"items": [{**RENEWAL["items"][0], "days": 30}]})
    assert act(client, oc, "doctor", t["id"], "come-in", {"note": "请来院"}, expect=409)["code"] == "invalid_transition"


def test_come_in_and_who_may_do_what(client, oc, session):
    t = ask(client, oc)
    act(client, oc, "patient", t["id"], "renew", RENEWAL, expect=403)  # the patient's own consultation
    act(client, oc, "clerk", t["id"], "renew", RENEWAL, expect=403)  # not a doctor
    act(client, oc, "other_doctor", t["id"], "renew", RENEWAL, expect=404)  # another hospital
    get(client, oc, "stranger", f"{BASE}/tickets/{t['id']}/prescription", expect=404)
    get(client, oc, "other_doctor", f"{BASE}/tickets/{t['id']}/request", expect=404)
    get(client, oc, "doctor", f"{BASE}/tickets/{t['id']}/prescription", expect=403)
    act(client, oc, "doctor", t["id"], "come-in", {"note": "血压需复测，请来院复诊"})
    got = get(client, oc, "patient", f"{BASE}/tickets/{t['id']}/prescription")
    assert got == {"outcome": "come_in", "items": None, "valid_until": None, "used": False, "pass": None}
    assert session.scalar(sa.select(sa.func.count()).select_from(OcRenewal)) == 0


def test_two_persons_found_to_be_one_keep_one_patients_consultations(client, oc, session, clock):
    from auth.accounts import merge_persons
    from auth.models import Person

    t = ask(client, oc)
    keep = session.get(Person, oc.accounts["stranger"].person_id)
    merge_persons(session, clock=clock, keep=keep, drop=session.get(Person, oc.accounts["patient"].person_id))
    session.commit()
    session.expire_all()
    assert session.get(OcConsult, t["id"]).patient_person_id == keep.id
