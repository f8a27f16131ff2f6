"""hospital-appointment (精准预约): real-name verified bookers for patients with an ID number,
cancellation until 20:00 the evening before, a reminder the evening before, the no-show policy
explained in its refusal, a doctor's absence that cancels and tells, 15-minute slots on
working days only."""
from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
import sqlalchemy as sa

from app.calendar import load_calendar_days
from app.fields import CST
from app.notify.models import OutboxMessage
from app.timers import Timer
from auth.models import Account, Person, PersonRelation
from auth.principal import Principal
from qr.keys import init_keys
from scenarios.engines.booking import resources
from scenarios.engines.booking.models import BkBooking, BkResource, BkSlot
from scenarios.hospital_appointment import CONFIG
from scenarios.hospital_appointment.demo import HOURS
from tests.support.factories import bearer, id_number, make_org, make_resident, make_staff, token_for
from tests.support.qr import make_keyring

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
BASE = "/api/v1/hospital-appointment"
MONDAY_10 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def keyring(app, db, clock):
    clock.set(MONDAY_10)
    kr = make_keyring(app, db, clock)
    with db.transaction() as s:
        init_keys(s, kek=kr._kek, clock=clock)
    app.extensions["qr_keyring"] = kr
    yield kr
    app.extensions.pop("qr_keyring", None)


class W:
    pass


@pytest.fixture
def w(session, clock, keyring):
    load_calendar_days(session)
    w = W()
    w.hospital = make_org(session, "hospital")
    w.clerk = bearer(token_for(session, clock, make_staff(session, w.hospital, "clerk"), w.hospital))
    verified = make_resident(session, name="王丽", id_no=id_number(), level="verified")
    plain = make_resident(session, name="李强", id_no=id_number(), level="basic")
    w.verified, w.plain = bearer(token_for(session, clock, verified)), bearer(token_for(session, clock, plain))
    w.me, w.account = verified.person_id, verified.id
    mother = Person(name="王母", real_name_level="basic")
    mother.set_id_number(id_number(birth="19450305"))
    child = Person(name="王小")
    session.add_all([mother, child])
    session.flush()
    w.mother, w.child = mother.id, child.id
    session.add_all([
        PersonRelation(from_person_id=verified.person_id, to_person_id=mother.id, kind="family",
                       allows=["book_medical"], status="confirmed", created_at=clock.now()),
        PersonRelation(from_person_id=verified.person_id, to_person_id=child.id, kind="guardian",
                       allows=["book_medical"], status="confirmed", created_at=clock.now())])
    admin = Principal("staff", org_id=w.hospital.id, org_code=w.hospital.code, org_type="hospital", role="admin")
    w.clinic = resources.create(session, clock=clock, principal=admin, config=CONFIG, name="内科 王主任",
                                kind="capacity", capacity=1, slot_minutes=15, calendar="working_days",
                                address="医院", hours=HOURS, code="hosp-nk-1")
    session.commit()
    return w


def slot(session, w, day: date, hour: int, minute: int = 0) -> BkSlot:
    start = datetime.combine(day, time(hour, minute), CST)
    return session.scalar(sa.select(BkSlot).where(BkSlot.resource_id == w.clinic.id, BkSlot.starts_at == start))


def book(client, headers, slot_id, key, **body):
    return client.post(f"{BASE}/bookings", json={"slot_id": slot_id, **body},
                       headers={**headers, "Idempotency-Key": key})


def test_slots_are_15_minutes_on_working_days_only(session, w):
    starts = session.scalars(sa.select(BkSlot.starts_at).where(BkSlot.resource_id == w.clinic.id)).all()
    days = {s.astimezone(CST).date() for s in starts}
    assert date(2026, 3, 7) not in days and date(2026, 3, 8) not in days  # the weekend
    assert date(2026, 3, 9) in days
    monday = sorted(s.astimezone(CST).time() for s in starts if s.astimezone(CST).date() == date(2026, 3, 9))
    assert monday[:2] == [time(8, 0), time(8, 15)] and len(monday) == 14 + 12


def test_only_verified_bookers_for_patients_with_an_id_number(client, session, w):
    s = slot(session, w, date(2026, 3, 3), 9)
    refused = book(client, w.plain, s.id, "hosp-key-0001")
    assert refused.status_code == 403 and refused.get_json()["code"] == "realname_required"
    no_id = book(client, w.verified, s.id, "hosp-key-0002", person_id=w.child)
    assert no_id.status_code == 422 and no_id.get_json()["code"] == "patient_id_required"
    ok = book(client, w.verified, s.id, "hosp-key-0003", person_id=w.mother)
    assert ok.status_code == 201 and ok.get_json()["status"] == "confirmed", ok.get_json()
    assert ok.get_json()["person"]["person_id"] == w.mother


def test_cancel_until_20_00_the_evening_before_and_reminded_at_19_00(client, session, clock, w):
    s = slot(session, w, date(2026, 3, 3), 9)
    b = book(client, w.verified, s.id, "hosp-key-0010").get_json()
    reminder = session.scalar(sa.select(Timer.due_at).where(Timer.kind == "booking.reminder",
                                                            Timer.subject_id == str(b["id"])))
    assert reminder == datetime(2026, 3, 2, 19, 0, tzinfo=CST)
    clock.set(datetime(2026, 3, 2, 20, 1, tzinfo=CST))
    headers = bearer(token_for(session, clock, session.get(Account, w.account)))
    session.commit()
    late = client.post(f"{BASE}/bookings/{b['id']}/cancel", json={}, headers=headers)
    assert late.status_code == 409 and late.get_json()["code"] == "cancel_too_late"
    assert "20:00" in late.get_json()["message"]
    clock.set(datetime(2026, 3, 2, 19, 59, tzinfo=CST))
    headers = bearer(token_for(session, clock, session.get(Account, w.account)))
    session.commit()
    ok = client.post(f"{BASE}/bookings/{b['id']}/cancel", json={}, headers=headers)
    assert ok.status_code == 200 and ok.get_json()["status"] == "cancelled"


def test_three_no_shows_in_90_days_suspend_online_booking_with_the_reason(client, session, clock, w):
    past = [slot(session, w, date(2026, 3, 2), 8, m) for m in (0, 15, 30)]  # before 10:00 today
    for i, s in enumerate(past):
        session.add(BkBooking(scenario=CONFIG.slug, resource_id=w.clinic.id, slot_id=s.id, person_id=w.me,
                              booker_person_id=w.me, units=1, places=1, whole_unit=False, status="no_show",
                              checked_in=0, created_at=clock.now(), updated_at=clock.now()))
        session.flush()
        if i == 1:
            two = book(client, w.verified, slot(session, w, date(2026, 3, 4), 9).id, "hosp-key-0020")
            assert two.status_code == 201  # two no-shows: still allowed
            session.commit()
    session.commit()
    refused = book(client, w.verified, slot(session, w, date(2026, 3, 5), 9).id, "hosp-key-0021")
    assert refused.status_code == 403 and refused.get_json()["code"] == "online_booking_suspended"
    assert "爽约 3 次" in refused.get_json()["message"] and "2026年05月31日" in refused.get_json()["message"]
    for_mother = book(client, w.verified, slot(session, w, date(2026, 3, 5), 9).id, "hosp-key-0022",
                      person_id=w.mother)
    assert for_mother.status_code == 201  # the policy counts per patient


def test_a_doctors_absence_cancels_the_day_and_tells_the_patients(client, session, w):
    s = slot(session, w, date(2026, 3, 4), 9)
    b = book(client, w.verified, s.id, "hosp-key-0030").get_json()
    other_day = book(client, w.verified, slot(session, w, date(2026, 3, 5), 9).id, "hosp-key-0031").get_json()
    resp = client.post(f"{BASE}/resources/hosp-nk-1/close-day", json={"date": "2026-03-04", "reason": "医生停诊"},
                       headers=w.clerk)
    assert resp.status_code == 200 and resp.get_json()["closed_slots"] == 26
    session.expire_all()
    assert session.get(BkBooking, b["id"]).status == "cancelled"
    assert session.get(BkBooking, other_day["id"]).status == "confirmed"
    told = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "booking_cancelled")).all()
    assert [(m.recipient_id, m.payload["booking_id"]) for m in told] == [(str(w.account), b["id"])]
    assert client.post(f"{BASE}/resources/hosp-nk-1/close-day", json={"date": "2026-03-05", "reason": "x"},
                       headers=w.verified).status_code == 403
    assert session.scalar(sa.select(BkResource.id).where(BkResource.code == "hosp-nk-1")) is not None
