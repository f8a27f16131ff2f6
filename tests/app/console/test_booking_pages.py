"""The booking engine's console pages: a venue's (or hospital's) desk sees the day's slots and
bookings of its own resources, checks a pass in, closes a slot, closes a day (a doctor's
absence) — the API's services behind each form; visibility first, CSRF on every form."""
from __future__ import annotations

from datetime import date

import pytest

from scenarios.engines.booking.models import BkBooking, BkSlot
from tests.engines.booking.scenario import BASE, SLUG
from tests.engines.booking.test_engine import book, keyring, slot_at  # noqa: F401  (the engine's fixtures)
from tests.engines.booking.world import build
from tests.support.console import post, sign_in

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
TODAY = date(2026, 3, 2)
DAY = f"/console/b/{SLUG}/day"


@pytest.fixture
def w(session, clock, keyring):  # noqa: F811
    return build(session, clock)


def _desk(app, w, who: str):
    client = app.test_client()
    sign_in(client, w.extra["accounts"][who][0].username)
    return client


def _booked(client, session, w, hour: int) -> tuple[BkSlot, dict, str]:
    slot = slot_at(session, w.court, TODAY, hour)
    b = book(client, w.headers["alice"], slot.id, f"idem-console-{hour}").get_json()
    confirmed = client.post(f"{BASE}/bookings/{b['id']}/confirm", json={}, headers=w.headers["alice"]).get_json()
    return slot, b, confirmed["pass"]["token"]


def test_the_desk_sees_the_day_and_checks_a_pass_in(app, client, session, clock, w):
    slot, b, token = _booked(client, session, w, 13)
    desk = _desk(app, w, "staff_a")
    page = desk.get(DAY)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and f'id="booking-{b["id"]}"' in text and "王丽" not in text and "王*" in text
    assert f'id="slot-{slot.id}"' in text and 'id="do-check-in"' in text
    assert "整日关闭" not in text  # a staff member checks in; managers close
    assert f'href="{DAY}"' in text  # the navigation's link: its organisation owns resources here
    other = _desk(app, w, "manager_b").get(DAY).get_data(as_text=True)
    assert f'id="booking-{b["id"]}"' not in other and f'href="{DAY}"' not in other
    clock.set(slot.starts_at)
    forged = desk.post(f"/console/b/{SLUG}/check-in", data={"token": token, "csrf_token": "x"})
    assert forged.status_code == 400 and session.get(BkBooking, b["id"]).checked_in == 0
    done = post(desk, f"/console/b/{SLUG}/check-in", {"token": token}, page=DAY)
    assert done.status_code == 302 and f"admitted={b['id']}" in done.headers["Location"]
    session.expire_all()
    assert session.get(BkBooking, b["id"]).status == "checked_in"
    assert post(desk, f"/console/b/{SLUG}/check-in", {"token": "nonsense"}, page=DAY).status_code == 422
    assert post(desk, f"/console/b/{SLUG}/check-in", {}, page=DAY).status_code == 422


def test_managers_close_a_slot_and_a_day_and_others_may_not(app, client, session, w):
    slot, b, _ = _booked(client, session, w, 15)
    close = f"/console/b/{SLUG}/slots/{slot.id}/close"
    other = _desk(app, w, "manager_b")
    # slots and resources are public (availability): another operator's is visible, not theirs to close
    assert post(other, close, {"reason": "维修"}, page=DAY).status_code == 403
    assert post(other, f"/console/b/{SLUG}/slots/999999999/close", {"reason": "维修"}, page=DAY).status_code == 404
    staff = _desk(app, w, "staff_a")
    assert post(staff, close, {"reason": "维修"}, page=DAY).status_code == 403
    manager = _desk(app, w, "manager_a")
    assert post(manager, close, {}, page=DAY).status_code == 422  # a reason is required
    assert post(manager, close, {"reason": "场地维修"}, page=DAY).status_code == 302
    session.expire_all()
    assert session.get(BkSlot, slot.id).status == "closed" and session.get(BkBooking, b["id"]).status == "cancelled"
    day = f"/console/b/{SLUG}/resources/{w.court.code}/close-day"
    assert post(other, day, {"date": "2026-03-03", "reason": "停诊"}, page=DAY).status_code == 403
    assert post(other, f"/console/b/{SLUG}/resources/nope/close-day", {"date": "2026-03-03", "reason": "停诊"},
                page=DAY).status_code == 404
    resp = post(manager, day, {"date": "2026-03-03", "reason": "医生请假"}, page=DAY)
    assert resp.status_code == 302 and "closed_day=14" in resp.headers["Location"]
    assert manager.get("/console/b/no-such/day").status_code == 404
    assert manager.get(f"{DAY}?date=2026-02-30").status_code == 422
