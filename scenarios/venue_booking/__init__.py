"""venue-booking (场馆预定, L23 "相约星期三，健身在金山"): the district's sports venues and courts,
hourly slots, a whole court per booking or places in a class (the Wednesday sessions of the
相约星期三 programme); venue operators manage them; the gate admits by the booking's pass or the
resident's personal code (一码通行). Everything else is the booking engine's.
"""
from __future__ import annotations

from scenarios.engines.booking.config import BookingConfig, booking_scenario

CONFIG = BookingConfig(
    slug="venue-booking",
    title_zh="场馆预定",
    pass_purpose="venue_booking",  # noqa: S106 (a QR purpose, not a password) qr.admission: venue operators' gates and scanners admit it
    owner_types=("venue_operator",),
    manager_roles=("manager",),
    checkin_roles=("manager", "staff"),
    needs_confirm=False,
    max_places=4,  # a court for four; a family in a class
    per_person_per_day=2,
    open_at_once=4,
    days_ahead=7,
    window_days=14,
    cancel_rule_zh="开始前 2 小时内不能取消或改约",
    reminder_minutes=120,
    no_show_minutes=15,
    offer_minutes=30,
    act_scope="apply",
    personal_code_entry=True,
)

SCENARIO = booking_scenario(
    CONFIG, title_en="Venue booking", seed_refs=("L23",),
    roles=("resident", "venue_operator:manager", "venue_operator:staff", "device:gate", "device:scanner"),
    demo="scenarios.venue_booking.demo:load",
)
