"""venue-booking (场馆预定): bookings are confirmed at once with a pass for the party, a reminder
goes out through the outbox 2 hours before, the venue's gate admits by pass or personal code
(一码通行), operators manage their courts; the demo has a sports centre per town with the
相约星期三 Wednesday sessions."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from app.fields import CST
from app.notify.models import OutboxMessage
from app.worker import Worker
from qr.service import issue_personal
from scenarios.engines.booking.models import BkResource, BkSlot

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
BASE = "/api/v1/venue-booking"
EVERY_DAY = [{"weekday": d, "opens_minute": 8 * 60, "closes_minute": 21 * 60} for d in range(7)]


def slot_of(session, code: str, day: date, hour: int) -> BkSlot:
    start = datetime.combine(day, time(hour), CST)
    return session.scalar(sa.select(BkSlot).join(BkResource).where(BkResource.code == code,
                                                                    BkSlot.starts_at == start))


def make_court(client, w) -> None:
    resp = client.post(f"{BASE}/resources", headers={**w["h"]["manager_a"], "Idempotency-Key": "court-create-1"},
                       json={"code": "court-1", "name": "1号羽毛球场", "kind": "unit", "capacity": 1,
                             "address": "金山区体育中心", "hours": EVERY_DAY})
    assert resp.status_code == 201, resp.get_json()


def test_only_the_venue_operators_managers_create_courts(client, w):
    body = {"name": "球场", "kind": "unit", "capacity": 1, "address": "x", "hours": EVERY_DAY}
    resp = client.post(f"{BASE}/resources", json=body, headers=w["h"]["company"])
    assert resp.status_code == 403
    bad = client.post(f"{BASE}/resources", json={**body, "capacity": 4}, headers=w["h"]["manager_a"])
    assert bad.status_code == 422 and "capacity" in bad.get_json()["errors"]
    make_court(client, w)
    listed = client.get(f"{BASE}/resources", headers=w["h"]["alice"]).get_json()
    assert [r["code"] for r in listed["items"]] == ["court-1"] and listed["items"][0]["owner"] == w["a"].code


def test_a_court_booked_for_four_admits_four_and_reminds_two_hours_before(client, session, db, clock, w):
    make_court(client, w)
    slot = slot_of(session, "court-1", date(2026, 3, 3), 18)
    resp = client.post(f"{BASE}/bookings", json={"slot_id": slot.id, "places": 4},
                       headers={**w["h"]["alice"], "Idempotency-Key": "book-court-001"})
    assert resp.status_code == 201, resp.get_json()
    booking = resp.get_json()
    assert booking["status"] == "confirmed" and booking["pass"]["admits"] == 4
    clock.set(slot.starts_at - timedelta(hours=2, minutes=1))
    Worker(db, clock, worker_id="venue", periodic_jobs={}).run_once()
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.template == "booking_reminder")) == 0
    clock.set(slot.starts_at - timedelta(hours=2))
    Worker(db, clock, worker_id="venue", periodic_jobs={}).run_once()
    reminders = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "booking_reminder")).all()
    assert [(m.recipient_id, m.channel) for m in reminders] == [(str(w["alice"].id), "wechat")]
    assert reminders[0].payload["starts_text"] == "03月03日 18:00"

    clock.set(slot.starts_at - timedelta(minutes=5))
    token = booking["pass"]["token"]
    wrong = client.post(f"{BASE}/check-ins", json={"token": token}, headers=w["h"]["gate_b"])
    assert wrong.status_code == 409 and wrong.get_json()["code"] == "pass_wrong_venue"
    for n in range(4):
        ok = client.post(f"{BASE}/check-ins", json={"token": token}, headers=w["h"]["gate_a"])
        assert ok.status_code == 200 and ok.get_json()["booking"]["checked_in"] == n + 1
    assert client.post(f"{BASE}/check-ins", json={"token": token},
                       headers=w["h"]["gate_a"]).get_json()["code"] == "pass_used_up"


def test_the_gate_answers_which_booking_a_personal_code_admits_now(client, session, clock, w, keyring):
    make_court(client, w)
    slot = slot_of(session, "court-1", date(2026, 3, 2), 14)
    booked = client.post(f"{BASE}/bookings", json={"slot_id": slot.id},
                         headers={**w["h"]["alice"], "Idempotency-Key": "book-court-002"}).get_json()

    def code() -> str:
        token = issue_personal(session, holder_type="person", holder_id=w["alice"].person_id, clock=clock,
                               keyring=keyring).token
        session.commit()
        return token

    early = client.post(f"{BASE}/check-ins", json={"token": code()}, headers=w["h"]["gate_a"])
    assert early.status_code == 409 and early.get_json()["code"] == "no_booking_now"  # 10:00, booking at 14:00
    clock.set(slot.starts_at - timedelta(minutes=20))  # within the 30 minutes before
    ok = client.post(f"{BASE}/check-ins", json={"token": code()}, headers=w["h"]["gate_a"])
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["via"] == "personal_code" and ok.get_json()["booking"]["id"] == booked["id"]


def test_demo_has_a_sports_centre_per_town_with_wednesday_sessions(app, session, clock, keyring):
    from scenarios.venue_booking.demo import load

    load(session, clock)
    load(session, clock)  # idempotent
    wed = session.scalars(sa.select(BkResource).where(BkResource.scenario == "venue-booking",
                                                      BkResource.code.like("%-wed"))).all()
    towns = session.scalar(sa.text("SELECT count(*) FROM organisations WHERE type IN ('town', 'subdistrict')"))
    assert len(wed) == towns > 5
    starts = session.scalars(sa.select(BkSlot.starts_at).where(BkSlot.resource_id == wed[0].id)).all()
    assert starts and {s.astimezone(CST).weekday() for s in starts} == {2}
    prices = dict(session.execute(sa.select(BkResource.code, BkResource.price_fen).where(
        BkResource.owner_org_id == wed[0].owner_org_id)).all())
    assert sorted(p for p in prices.values() if p) == [3000, 6000] and sum(p is None for p in prices.values()) == 4
    assert {s.astimezone(CST).hour for s in starts} == {9, 10, 19, 20}
    assert session.scalar(sa.select(sa.func.count()).select_from(BkSlot).where(
        BkSlot.resource_id == wed[0].id)) == len(set(starts))
