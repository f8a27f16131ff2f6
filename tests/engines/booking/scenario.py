"""The booking engine's own test scenario (``bk-test``), registered only in tests.

Bookings start as holds of 5 minutes that the booker confirms; up to 4 places a booking, 2
bookings a person a day, 3 open at once, 7 days ahead; no cancelling in the last 2 hours.
Resources are owned by venue operators (their gates admit ``venue_booking`` passes by
``qr.admission``'s defaults) or hospitals. Notices go to the log channel: these tests are
about who is told and when.
"""
from __future__ import annotations

from scenarios.engines.booking.config import BookingConfig, booking_scenario

SLUG = "bk-test"
BASE = f"/api/v1/{SLUG}"

CONFIG = BookingConfig(
    slug=SLUG,
    title_zh="预约引擎测试",
    pass_purpose="venue_booking",
    owner_types=("venue_operator", "hospital"),
    manager_roles=("manager", "admin"),
    checkin_roles=("manager", "staff", "clerk"),
    needs_confirm=True,
    hold_minutes=5,
    max_places=4,
    per_person_per_day=2,
    open_at_once=3,
    days_ahead=7,
    window_days=10,
    reminder_minutes=120,
    no_show_minutes=15,
    offer_minutes=30,
    act_scope="apply",
    notify_channel="log",
)

SCENARIO = booking_scenario(CONFIG, title_en="Booking engine test scenario", seed_refs=("test",),
                            roles=("resident", "venue_operator:manager", "venue_operator:staff", "device:gate"))
