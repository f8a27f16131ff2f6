"""What a scenario may do to bookings without a pass or a person (``booking.external``) and its
``may_reserve`` hook, on the engine's test scenario (``bk-test``), through the services:
a refused slot changes nothing; a booking used is left alone by the no-show timer; withdrawing a
resource cancels its live bookings of windows not yet ended, frees their places, cancels the
waiting list and tells their people once."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.errors import ApiError
from app.notify.models import OutboxMessage
from auth.principal import Principal
from scenarios.engines.booking import external, service
from scenarios.engines.booking.models import BkBooking, BkWaitlistEntry
from tests.engines.booking.scenario import CONFIG
from tests.engines.booking.test_engine import counters, keyring, run_worker, slot_at  # noqa: F401 (a fixture)
from tests.engines.booking.world import build

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
TUE = date(2026, 3, 3)
CONFIRMED = replace(CONFIG, needs_confirm=False)


@pytest.fixture
def w(session, clock, keyring):  # noqa: F811 (the fixture)
    return build(session, clock)


def resident(w, who: str) -> Principal:
    return Principal("resident", account_id=w.account[who], person_id=w.person[who])


def test_may_reserve_refuses_a_slot_before_anything_is_taken(session, clock, w):
    seen = []

    def may_reserve(session, *, clock, resource, slot):
        seen.append((resource.code, slot.id))
        raise ApiError("slot_closed")

    slot = slot_at(session, w.court, TUE, 10)
    with pytest.raises(ApiError) as refused:
        service.book(session, clock=clock, principal=resident(w, "alice"),
                     config=replace(CONFIRMED, may_reserve=may_reserve), slot_id=slot.id)
    assert refused.value.code == "slot_closed" and seen == [(w.court.code, slot.id)]
    assert counters(session, slot.id) == (0, 0)


def test_a_booking_used_without_a_pass_is_no_no_show(session, db, clock, w):
    slot = slot_at(session, w.court, TUE, 10)
    booking = service.book(session, clock=clock, principal=resident(w, "alice"), config=CONFIRMED, slot_id=slot.id)
    session.commit()
    clock.set(slot.starts_at + timedelta(minutes=5))
    assert external.booking_at(session, w.court.id, clock.now()).id == booking.id
    assert external.booking_at(session, w.court.id, slot.starts_at - timedelta(minutes=1)) is None
    assert external.use(session, booking, clock.now()) and booking.status == "checked_in"
    assert not external.use(session, booking, clock.now())  # once
    session.commit()
    clock.set(slot.starts_at + timedelta(minutes=CONFIG.no_show_minutes + 1))
    run_worker(db, clock)
    session.expire_all()
    assert session.get(BkBooking, booking.id).status == "checked_in"


def test_withdrawing_a_resource_cancels_its_live_bookings_and_tells_their_people(session, clock, w):
    now_slot, later = slot_at(session, w.court, TUE, 10), slot_at(session, w.court, TUE, 11)
    first = service.book(session, clock=clock, principal=resident(w, "alice"), config=CONFIRMED,
                         slot_id=now_slot.id)
    second = service.book(session, clock=clock, principal=resident(w, "bob"), config=CONFIRMED, slot_id=later.id)
    waiting = service.join_waitlist(session, clock=clock, principal=resident(w, "alice"), config=CONFIRMED,
                                    slot=later)
    clock.set(now_slot.ends_at)  # the first window has ended: its booking stays as it was
    ended = external.withdraw(session, CONFIG, w.court, clock=clock, reason="设备故障")
    assert [b.id for b in ended] == [second.id]
    session.expire_all()
    assert session.get(BkBooking, first.id).status == "confirmed"
    assert (session.get(BkBooking, second.id).status, session.get(BkBooking, second.id).end_reason) == (
        "cancelled", "withdrawn: 设备故障")
    assert counters(session, later.id) == (0, 0)
    assert session.get(BkWaitlistEntry, waiting.id).status == "cancelled"
    told = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "booking_cancelled")).all()
    assert [(m.recipient_id, m.payload["reason"]) for m in told] == [(str(w.account["bob"]), "设备故障")]
    assert external.withdraw(session, CONFIG, w.court, clock=clock, reason="设备故障") == []
