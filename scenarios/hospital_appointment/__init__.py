"""hospital-appointment (精准预约, L9): doctors' clinics at the 4 general hospitals, the specialist
institution and the 11 community health centres, slots of 15 (hospitals) or 10 minutes (health
centres) on working days; booking only by real-name verified residents for themselves or a
patient they may book for (``book_medical``) with a recorded ID number; cancellation until
20:00 the evening before; a reminder at 19:00 the evening before; check-in at the clinic by
the pass or the patient's personal code; the no-show policy (``policy.NO_SHOWS``). Staff mark
a doctor's absence with the engine's ``close-day``. Everything else is the booking engine's.
"""
from __future__ import annotations

from scenarios.engines.booking.config import BookingConfig, booking_scenario
from scenarios.hospital_appointment.policy import SLUG, cancel_deadline, may_book, reminder_at

CONFIG = BookingConfig(
    slug=SLUG,
    title_zh="精准预约",
    pass_purpose="hospital_appointment",  # noqa: S106 (a QR purpose) hospitals' kiosks and scanners admit it
    owner_types=("hospital", "community_health_centre"),
    manager_roles=("admin", "clerk"),
    checkin_roles=("admin", "clerk", "doctor"),
    needs_confirm=False,
    max_places=1,
    per_person_per_day=2,
    open_at_once=5,
    days_ahead=14,
    window_days=14,
    cancel_deadline=cancel_deadline,
    cancel_rule_zh="就诊前一天 20:00 后不能取消或改约",
    reminder_at=reminder_at,
    no_show_minutes=30,
    early_entry_minutes=60,
    offer_minutes=30,
    act_scope="book_medical",
    personal_code_entry=True,
    may_book=may_book,
)

SCENARIO = booking_scenario(
    CONFIG, title_en="Hospital appointments", seed_refs=("L9",),
    roles=("resident", "hospital:admin", "hospital:clerk", "hospital:doctor", "community_health_centre:admin",
           "community_health_centre:clerk", "community_health_centre:doctor", "device:kiosk", "device:scanner"),
    demo="scenarios.hospital_appointment.demo:load",
)
