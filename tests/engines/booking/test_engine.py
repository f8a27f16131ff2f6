"""The booking engine through HTTP on its test scenario (``bk-test``): holds, confirmation,
expiry counted free before the worker runs, cancel notice rule, rescheduling in one step,
limits, booking for a relative, waitlist offers, no-shows, closing a slot, and the gate."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.calendar import load_calendar_days
from app.notify.models import OutboxMessage
from app.worker import Worker
from auth.models import PersonRelation
from qr.keys import init_keys
from qr.service import issue_personal
from scenarios.engines.booking import slots
from scenarios.engines.booking.models import BkBooking, BkSlot
from scenarios.venue_booking import CONFIG as VENUE
from tests.engines.booking.scenario import BASE
from tests.engines.booking.world import MONDAY_10, build
from tests.support.qr import make_keyring

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


@pytest.fixture
def keyring(app, db, clock):
    """Signing keys made at the world's time (the shared fixture makes them at today's)."""
    clock.set(MONDAY_10)
    kr = make_keyring(app, db, clock)
    with db.transaction() as s:
        init_keys(s, kek=kr._kek, clock=clock)
    app.extensions["qr_keyring"] = kr
    yield kr
    app.extensions.pop("qr_keyring", None)


@pytest.fixture
def w(session, clock, keyring):
    return build(session, clock)


def slot_at(session, resource, day: date, hour: int) -> BkSlot:
    from datetime import datetime, time

    from app.fields import CST
    start = datetime.combine(day, time(hour), CST)
    return session.scalar(sa.select(BkSlot).where(BkSlot.resource_id == resource.id, BkSlot.starts_at == start))


TUE = date(2026, 3, 3)
WED = date(2026, 3, 4)


def book(client, headers, slot_id, key, **body):
    return client.post(f"{BASE}/bookings", json={"slot_id": slot_id, **body},
                       headers={**headers, "Idempotency-Key": key})


def counters(session, slot_id) -> tuple[int, int]:
    session.expire_all()
    s = session.get(BkSlot, slot_id)
    return s.booked, s.held


def free_of(client, headers, code, slot_id, **params) -> int:
    resp = client.get(f"{BASE}/resources/{code}/availability", headers=headers, query_string=params)
    assert resp.status_code == 200, resp.get_json()
    return next(s["free"] for s in resp.get_json()["slots"] if s["slot_id"] == slot_id)


def run_worker(db, clock) -> int:
    return Worker(db, clock, worker_id="bk-test", periodic_jobs={}).run_once()


def test_a_hold_then_confirm_gives_a_pass_and_moves_the_counters(client, session, clock, w):
    slot = slot_at(session, w.klass, WED, 9)
    resp = book(client, w.headers["alice"], slot.id, "idem-key-hold-1", places=2)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "held" and body["pass"] is None and body["hold_expires_at"]
    assert counters(session, slot.id) == (0, 2)
    assert free_of(client, w.headers["bob"], "class-a1", slot.id, **{"from": "2026-03-04", "days": 1}) == 8
    again = book(client, w.headers["alice"], slot.id, "idem-key-hold-1", places=2)  # a retry: the same answer
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json()["id"] == body["id"]
    confirmed = client.post(f"{BASE}/bookings/{body['id']}/confirm", json={}, headers=w.headers["alice"])
    assert confirmed.status_code == 200, confirmed.get_json()
    out = confirmed.get_json()
    assert out["status"] == "confirmed" and out["pass"]["admits"] == 2 and out["pass"]["token"].count(".") == 2
    assert counters(session, slot.id) == (2, 0)
    told = session.scalars(sa.select(OutboxMessage.template).where(
        OutboxMessage.event_key.like(f"booking.confirmed:{body['id']}:%"))).all()
    assert told == ["booking_confirmed"]


def test_an_expired_hold_counts_free_before_the_worker_runs_and_cannot_be_confirmed(client, session, clock, w):
    slot = slot_at(session, w.court, TUE, 18)
    first = book(client, w.headers["alice"], slot.id, "idem-key-exp-1").get_json()
    assert book(client, w.headers["bob"], slot.id, "idem-key-exp-2").get_json()["code"] == "slot_full"
    clock.advance(minutes=5, seconds=1)
    w.fresh(session, clock)
    assert free_of(client, w.headers["bob"], "court-a1", slot.id, **{"from": "2026-03-03", "days": 1}) == 1
    late = client.post(f"{BASE}/bookings/{first['id']}/confirm", json={}, headers=w.headers["alice"])
    assert late.status_code == 409 and late.get_json()["code"] == "hold_expired"
    taken = book(client, w.headers["bob"], slot.id, "idem-key-exp-3")  # releases the expired hold first
    assert taken.status_code == 201, taken.get_json()
    assert counters(session, slot.id) == (0, 1)
    session.expire_all()
    assert session.get(BkBooking, first["id"]).status == "expired"


def test_the_worker_expires_a_hold_exactly_once(client, session, db, clock, w):
    slot = slot_at(session, w.klass, WED, 10)
    booking = book(client, w.headers["alice"], slot.id, "idem-key-w-1", places=3).get_json()
    clock.advance(minutes=6)
    w.fresh(session, clock)
    run_worker(db, clock)
    run_worker(db, clock)
    assert counters(session, slot.id) == (0, 0)
    assert session.get(BkBooking, booking["id"]).status == "expired"


def test_cancel_follows_the_notice_rule_and_revokes_the_pass(client, session, clock, w):
    slot = slot_at(session, w.court, date(2026, 3, 2), 13)  # today 13:00; now 10:00
    b = book(client, w.headers["alice"], slot.id, "idem-key-c-1").get_json()
    token = client.post(f"{BASE}/bookings/{b['id']}/confirm", json={}, headers=w.headers["alice"]).get_json()[
        "pass"]["token"]
    clock.advance(hours=1, minutes=1)  # 11:01: within the last 2 hours
    w.fresh(session, clock)
    late = client.post(f"{BASE}/bookings/{b['id']}/cancel", json={}, headers=w.headers["alice"])
    assert late.status_code == 409 and late.get_json()["code"] == "cancel_too_late"
    assert "2 小时" in late.get_json()["message"]
    clock.set(clock.now() - timedelta(minutes=2))  # 10:59: still allowed
    w.fresh(session, clock)
    ok = client.post(f"{BASE}/bookings/{b['id']}/cancel", json={}, headers=w.headers["alice"])
    assert ok.status_code == 200 and ok.get_json()["status"] == "cancelled" and ok.get_json()["pass"] is None
    assert counters(session, slot.id) == (0, 0)
    clock.set(slot.starts_at)
    w.fresh(session, clock)
    gate = client.post(f"{BASE}/check-ins", json={"token": token}, headers=w.headers["gate_a"])
    assert gate.status_code == 409 and gate.get_json()["code"] == "qr_revoked"


def test_someone_elses_booking_is_404_and_staff_may_read_but_not_cancel(client, session, w):
    slot = slot_at(session, w.court, TUE, 9)
    b = book(client, w.headers["alice"], slot.id, "idem-key-v-1").get_json()
    assert client.post(f"{BASE}/bookings/{b['id']}/cancel", json={}, headers=w.headers["bob"]).status_code == 404
    assert client.get(f"{BASE}/bookings/{b['id']}", headers=w.headers["manager_b"]).status_code == 404
    assert client.get(f"{BASE}/bookings/{b['id']}", headers=w.headers["manager_a"]).status_code == 200
    assert client.post(f"{BASE}/bookings/{b['id']}/cancel", json={}, headers=w.headers["manager_a"]).status_code == 403
    assert counters(session, slot.id) == (0, 1)


def test_reschedule_moves_in_one_step_or_changes_nothing(client, session, w):
    s9, s10, s11 = (slot_at(session, w.court, TUE, h) for h in (9, 10, 11))
    mine = book(client, w.headers["alice"], s9.id, "idem-key-r-1").get_json()
    client.post(f"{BASE}/bookings/{mine['id']}/confirm", json={}, headers=w.headers["alice"])
    book(client, w.headers["bob"], s11.id, "idem-key-r-2")  # s11 is taken
    full = client.post(f"{BASE}/bookings/{mine['id']}/reschedule", json={"slot_id": s11.id},
                       headers=w.headers["alice"])
    assert full.status_code == 409 and full.get_json()["code"] == "slot_full"
    assert counters(session, s9.id) == (1, 0) and counters(session, s11.id) == (0, 1)
    moved = client.post(f"{BASE}/bookings/{mine['id']}/reschedule", json={"slot_id": s10.id},
                        headers=w.headers["alice"])
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["slot_id"] == s10.id and moved.get_json()["pass"]["valid_until"]
    assert counters(session, s9.id) == (0, 0) and counters(session, s10.id) == (1, 0)


@pytest.mark.parametrize(("case", "status", "code"), [
    ("too_many", 422, "party_too_large"), ("past", 422, "slot_in_past"), ("far", 422, "slot_too_far"),
    ("other_scenario", 422, "slot_not_in_scenario"), ("missing", 422, "slot_not_in_scenario"),
    ("stranger", 403, "not_acting_for"), ("bad_type", 422, "validation_error"),
])
def test_bad_bookings_are_clear_4xx(client, session, clock, w, case, status, code):
    slot = slot_at(session, w.klass, WED, 9)
    body = {"slot_id": slot.id}
    if case == "too_many":
        body["places"] = 5
    elif case == "past":
        body["slot_id"] = slot_at(session, w.court, date(2026, 3, 2), 9).id
    elif case == "far":
        body["slot_id"] = slot_at(session, w.court, date(2026, 3, 10), 9).id
    elif case == "other_scenario":
        from auth.principal import Principal
        from scenarios.engines.booking import resources
        a = w.orgs["a"]
        venue = resources.create(session, clock=clock, config=VENUE, principal=Principal(
            "staff", org_id=a.id, org_code=a.code, org_type=a.type, role="manager"), name="场", kind="unit",
            capacity=1, slot_minutes=60, calendar="every_day", address="x", code="venue-a9",
            hours=[{"weekday": 1, "opens_minute": 600, "closes_minute": 660}])
        session.commit()
        body["slot_id"] = slot_at(session, venue, TUE, 10).id
    elif case == "missing":
        body["slot_id"] = 999_999_999
    elif case == "stranger":
        body["person_id"] = w.person["bob"]
    elif case == "bad_type":
        body["places"] = "2"
    resp = client.post(f"{BASE}/bookings", json=body, headers=w.headers["alice"])
    assert resp.status_code == status and resp.get_json()["code"] == code, resp.get_json()
    assert session.scalar(sa.select(sa.func.count()).select_from(BkBooking)) == 0


def test_per_day_and_open_at_once_limits(client, session, w):
    s = [slot_at(session, w.court, TUE, h) for h in (9, 10, 11)]
    assert book(client, w.headers["alice"], s[0].id, "idem-key-l-1").status_code == 201
    assert book(client, w.headers["alice"], s[1].id, "idem-key-l-2").status_code == 201
    third = book(client, w.headers["alice"], s[2].id, "idem-key-l-3")
    assert third.status_code == 409 and third.get_json()["code"] == "booking_limit_reached"
    assert "每天" in third.get_json()["message"]
    assert book(client, w.headers["alice"], slot_at(session, w.court, WED, 9).id, "idem-key-l-4").status_code == 201
    fourth = book(client, w.headers["alice"], slot_at(session, w.court, date(2026, 3, 5), 9).id, "idem-key-l-5")
    assert fourth.status_code == 409 and "同时" in fourth.get_json()["message"]


def test_booking_for_a_relative_shows_in_both_circles(client, session, clock, w):
    session.add(PersonRelation(from_person_id=w.person["alice"], to_person_id=w.person["carol"], kind="guardian",
                               allows=["apply"], status="confirmed", created_at=clock.now()))
    session.commit()
    slot = slot_at(session, w.klass, WED, 11)
    b = book(client, w.headers["alice"], slot.id, "idem-key-rel-1", person_id=w.person["carol"])
    assert b.status_code == 201, b.get_json()
    assert b.get_json()["person"]["masked_name"] == "张*"
    for who in ("alice", "carol"):
        mine = client.get("/api/v1/me/bookings", headers=w.headers[who]).get_json()
        assert [i["id"] for i in mine["items"]] == [b.get_json()["id"]]
    assert client.get("/api/v1/me/bookings", headers=w.headers["bob"]).get_json()["items"] == []


def test_a_pass_admits_the_booked_places_at_the_owners_gate_only(client, session, clock, w):
    slot = slot_at(session, w.court, TUE, 9)
    b = book(client, w.headers["alice"], slot.id, "idem-key-g-1", places=4).get_json()
    token = client.post(f"{BASE}/bookings/{b['id']}/confirm", json={}, headers=w.headers["alice"]).get_json()[
        "pass"]["token"]
    clock.set(slot.starts_at - timedelta(minutes=10))
    w.fresh(session, clock)
    wrong = client.post(f"{BASE}/check-ins", json={"token": token}, headers=w.headers["gate_b"])
    assert wrong.status_code == 409 and wrong.get_json()["code"] == "pass_wrong_venue"
    for n in range(1, 5):
        resp = client.post(f"{BASE}/check-ins", json={"token": token}, headers=w.headers["gate_a"])
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["booking"]["checked_in"] == n and resp.get_json()["via"] == "pass"
        assert resp.get_json()["booking"]["pass"] is None  # a gate never gets the token it could replay
    fifth = client.post(f"{BASE}/check-ins", json={"token": token}, headers=w.headers["staff_a"])
    assert fifth.status_code == 409 and fifth.get_json()["code"] == "pass_used_up"
    assert client.post(f"{BASE}/check-ins", json={"token": token}, headers=w.headers["alice"]).status_code == 403


def test_the_gate_admits_a_personal_code_only_with_a_booking_now(client, session, clock, w, keyring):
    slot = slot_at(session, w.court, TUE, 9)
    b = book(client, w.headers["alice"], slot.id, "idem-key-p-1").get_json()
    client.post(f"{BASE}/bookings/{b['id']}/confirm", json={}, headers=w.headers["alice"])
    clock.set(slot.starts_at + timedelta(minutes=5))
    w.fresh(session, clock)

    def code(who):
        token = issue_personal(session, holder_type="person", holder_id=w.person[who], clock=clock,
                               keyring=keyring).token
        session.commit()
        return token

    bob = client.post(f"{BASE}/check-ins", json={"token": code("bob")}, headers=w.headers["gate_a"])
    assert bob.status_code == 409 and bob.get_json()["code"] == "no_booking_now"
    elsewhere = client.post(f"{BASE}/check-ins", json={"token": code("alice")}, headers=w.headers["gate_b"])
    assert elsewhere.status_code == 409 and elsewhere.get_json()["code"] == "no_booking_now"
    ok = client.post(f"{BASE}/check-ins", json={"token": code("alice")}, headers=w.headers["gate_a"])
    assert ok.status_code == 200 and ok.get_json()["via"] == "personal_code"
    assert ok.get_json()["booking"]["id"] == b["id"]


def test_a_freed_place_is_offered_to_the_waitlist_as_a_timed_hold(client, session, db, clock, w):
    slot = slot_at(session, w.court, TUE, 15)
    b = book(client, w.headers["alice"], slot.id, "idem-key-wl-1").get_json()
    client.post(f"{BASE}/bookings/{b['id']}/confirm", json={}, headers=w.headers["alice"])
    not_needed = client.post(f"{BASE}/slots/{slot_at(session, w.court, TUE, 16).id}/waitlist", json={},
                             headers=w.headers["bob"])
    assert not_needed.status_code == 409 and not_needed.get_json()["code"] == "waitlist_not_needed"
    for who in ("bob", "carol"):
        resp = client.post(f"{BASE}/slots/{slot.id}/waitlist", json={}, headers=w.headers[who])
        assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["position"] == 2
    client.post(f"{BASE}/bookings/{b['id']}/cancel", json={}, headers=w.headers["alice"])
    offered = session.scalars(sa.select(BkBooking).where(BkBooking.slot_id == slot.id,
                                                         BkBooking.status == "held")).all()
    assert [o.person_id for o in offered] == [w.person["bob"]]
    assert session.scalar(sa.select(OutboxMessage.template).where(
        OutboxMessage.event_key.like(f"booking.offer:{offered[0].id}:%"))) == "booking_offer"
    assert counters(session, slot.id) == (0, 1)
    clock.advance(minutes=31)  # bob lets it lapse: carol is next
    w.fresh(session, clock)
    run_worker(db, clock)
    session.expire_all()
    held = session.scalars(sa.select(BkBooking).where(BkBooking.slot_id == slot.id, BkBooking.status == "held")).all()
    assert [h.person_id for h in held] == [w.person["carol"]]
    assert counters(session, slot.id) == (0, 1)


def test_a_no_show_frees_the_place(client, session, db, clock, w):
    slot = slot_at(session, w.klass, WED, 9)
    b = book(client, w.headers["alice"], slot.id, "idem-key-ns-1", places=2).get_json()
    client.post(f"{BASE}/bookings/{b['id']}/confirm", json={}, headers=w.headers["alice"])
    clock.set(slot.starts_at + timedelta(minutes=14))
    w.fresh(session, clock)
    run_worker(db, clock)
    assert counters(session, slot.id) == (2, 0)
    clock.set(slot.starts_at + timedelta(minutes=16))
    w.fresh(session, clock)
    run_worker(db, clock)
    session.expire_all()
    assert session.get(BkBooking, b["id"]).status == "no_show" and counters(session, slot.id) == (0, 0)


def test_closing_a_slot_cancels_its_bookings_and_tells_the_people(client, session, w):
    slot = slot_at(session, w.klass, WED, 10)
    ids = []
    for who in ("alice", "bob"):
        b = book(client, w.headers[who], slot.id, f"idem-key-cl-{who}").get_json()
        client.post(f"{BASE}/bookings/{b['id']}/confirm", json={}, headers=w.headers[who])
        ids.append(b["id"])
    assert client.post(f"{BASE}/slots/{slot.id}/close", json={"reason": "场馆检修"},
                       headers=w.headers["alice"]).status_code == 403
    assert client.post(f"{BASE}/slots/{slot.id}/close", json={"reason": "场馆检修"},
                       headers=w.headers["manager_b"]).status_code == 403
    resp = client.post(f"{BASE}/slots/{slot.id}/close", json={"reason": "场馆检修"}, headers=w.headers["manager_a"])
    assert resp.status_code == 200 and resp.get_json()["status"] == "closed"
    session.expire_all()
    assert {session.get(BkBooking, i).status for i in ids} == {"cancelled"}
    assert counters(session, slot.id) == (0, 0)
    told = session.scalars(sa.select(OutboxMessage.recipient_id).where(
        OutboxMessage.template == "booking_cancelled")).all()
    assert sorted(told) == sorted(str(w.account[x]) for x in ("alice", "bob"))
    again = book(client, w.headers["carol"], slot.id, "idem-key-cl-3")
    assert again.status_code == 409 and again.get_json()["code"] == "slot_closed"


def test_occupancy_shows_the_day(client, session, w):
    slot = slot_at(session, w.klass, WED, 9)
    book(client, w.headers["alice"], slot.id, "idem-key-o-1", places=3)
    resp = client.get(f"{BASE}/occupancy", query_string={"date": "2026-03-04"}, headers=w.headers["manager_a"])
    assert resp.status_code == 200
    klass = next(r for r in resp.get_json()["resources"] if r["code"] == "class-a1")
    first = klass["slots"][0]
    assert (first["slot_id"], first["held"], first["booked"]) == (slot.id, 3, 0)
    other = client.get(f"{BASE}/occupancy", query_string={"date": "2026-03-04"}, headers=w.headers["manager_b"])
    assert other.get_json()["resources"] == []


def test_a_clinic_has_no_slots_on_a_public_holiday_and_keeps_working_on_a_make_up_day(session, clock, w):
    load_calendar_days(session)
    w.klass.calendar = "working_days"
    from scenarios.engines.booking.models import BkOpeningRule
    session.add(BkOpeningRule(resource_id=w.klass.id, weekday=0, opens_minute=9 * 60, closes_minute=10 * 60))
    session.flush()
    from app.calendar import business_calendar
    cal = business_calendar(session)
    rules = list(session.scalars(sa.select(BkOpeningRule).where(BkOpeningRule.resource_id == w.klass.id)))
    days = {r["starts_at"].date() for r in slots.slot_rows(cal, w.klass, rules, date(2026, 9, 28), 14)}
    assert date(2026, 10, 7) not in days  # 国庆节, a Wednesday
    assert date(2026, 9, 30) in days  # an ordinary Wednesday
    assert date(2026, 10, 10) in days  # a make-up Saturday keeps Monday's hours
    assert date(2026, 10, 5) not in days  # a Monday of the holiday


def test_new_hours_add_the_slots_the_window_lacks_and_keep_the_booked_ones(client, session, w):
    slot = slot_at(session, w.klass, WED, 9)
    b = book(client, w.headers["alice"], slot.id, "idem-key-h-1").get_json()
    thursday = [{"weekday": 3, "opens_minute": 18 * 60, "closes_minute": 20 * 60, "label": "夜场"}]
    assert client.put(f"{BASE}/resources/class-a1/hours", json={"hours": thursday},
                      headers=w.headers["manager_b"]).status_code == 403
    resp = client.put(f"{BASE}/resources/class-a1/hours", json={"hours": thursday}, headers=w.headers["manager_a"])
    assert resp.status_code == 200 and resp.get_json()["new_slots"] == 2  # one Thursday in the 10-day window
    assert slot_at(session, w.klass, date(2026, 3, 5), 18) is not None
    assert session.get(BkBooking, b["id"]).status == "held"  # the Wednesday slot and its booking stay
    assert client.put(f"{BASE}/resources/class-a1/hours", json={"hours": [{"weekday": 9, "opens_minute": 0,
                      "closes_minute": 60}]}, headers=w.headers["manager_a"]).status_code == 422


def test_a_parent_without_an_account_is_admitted_by_the_pass_on_the_bookers_phone(client, session, clock, w):
    from auth.models import Person
    parent = Person(name="王父", real_name_level="basic")
    session.add(parent)
    session.flush()
    session.add(PersonRelation(from_person_id=w.person["alice"], to_person_id=parent.id, kind="family",
                               allows=["apply"], status="confirmed", created_at=clock.now()))
    session.commit()
    slot = slot_at(session, w.court, TUE, 10)
    b = book(client, w.headers["alice"], slot.id, "idem-key-par-1", person_id=parent.id).get_json()
    token = client.post(f"{BASE}/bookings/{b['id']}/confirm", json={}, headers=w.headers["alice"]).get_json()[
        "pass"]["token"]  # shown to the booker, on her phone
    clock.set(slot.starts_at)
    w.fresh(session, clock)
    resp = client.post(f"{BASE}/check-ins", json={"token": token}, headers=w.headers["gate_a"])
    assert resp.status_code == 200 and resp.get_json()["booking"]["person"]["person_id"] == parent.id


def test_cancelling_an_account_frees_its_places(client, session, clock, w):
    from auth.signals import person_erased
    slot = slot_at(session, w.court, TUE, 11)
    b = book(client, w.headers["alice"], slot.id, "idem-key-er-1").get_json()
    client.post(f"{BASE}/bookings/{b['id']}/confirm", json={}, headers=w.headers["alice"])
    assert counters(session, slot.id) == (1, 0)
    person_erased.send(None, session=session, person_id=w.person["alice"])
    session.commit()
    assert counters(session, slot.id) == (0, 0)
    assert session.get(BkBooking, b["id"]).status == "cancelled"
