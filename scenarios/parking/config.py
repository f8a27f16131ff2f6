"""parking's configuration of its engines: the booking engine (a lot's arrival windows) and the
telemetry engine (occupancy counters and plate-reading cameras report on a lot)."""
from __future__ import annotations

from datetime import datetime, timedelta

from app.scenario import lazy
from scenarios.engines.booking.config import BookingConfig
from scenarios.engines.telemetry.config import Field, ReadingKind, Retention, SubjectType, TelemetryConfig
from scenarios.engines.telemetry.config import register as register_telemetry
from scenarios.parking.plates import COLOURS

WINDOW_MINUTES = 30
GRACE_MINUTES = 15
"""A reservation is held until its arrival window ends plus this (then a no-show)."""


def _until_start(starts_at: datetime) -> datetime:
    return starts_at


BOOKING = BookingConfig(
    slug="parking", title_zh="停车预约", pass_purpose="parking",  # noqa: S106 (a QR purpose) parking operators' gates
    owner_types=("parking_operator",), manager_roles=("manager",), checkin_roles=("manager", "staff"),
    needs_confirm=False, max_places=1, per_person_per_day=3, open_at_once=2, days_ahead=2, window_days=3,
    cancel_deadline=_until_start, cancel_rule_zh="到达时段开始后不能取消",
    no_show_minutes=WINDOW_MINUTES + GRACE_MINUTES, early_entry_minutes=0, reminder_minutes=30,
    personal_code_entry=False, act_scope="apply",
)
"""Slots are 30-minute arrival windows of a lot's resource (capacity: its reservable spaces)."""


def _lot(session, subject_id: int):
    from scenarios.parking.models import PkLot

    return session.get(PkLot, subject_id)


def _capacity(lot) -> int:
    return lot.capacity


TELEMETRY = register_telemetry(TelemetryConfig(
    slug="parking", title_zh="停车场设备",
    subjects=(SubjectType("parking_lot", load=_lot, organisation_of=lambda lot: lot.operator_id),),
    kinds=(
        ReadingKind("occupancy", "parking_lot", (Field("occupied", "int", minimum=0, maximum=_capacity),),
                    device_kinds=("sensor",), silent_after=timedelta(minutes=5), retention=Retention(keep_days=90),
                    on_reading=lazy("scenarios.parking.lots:on_occupancy"),
                    on_offline=lazy("scenarios.parking.lots:on_occupancy_silent")),
        ReadingKind("plate", "parking_lot", (Field("direction", "enum", choices=("entry", "exit")),
                                             Field("colour", "enum", choices=COLOURS)),
                    device_kinds=("camera",), silent_after=timedelta(minutes=30), retention=Retention(keep_days=7)),
    ),
    staff_roles=("manager", "staff"), alert_roles=("manager",)))
"""A camera's reading carries no plate (the history keeps no personal data): the plate goes to
``pk_stays`` encrypted; the reading records that the camera is alive and when it read."""
