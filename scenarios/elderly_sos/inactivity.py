"""Inactivity: a worn SOS device sends a heartbeat (the telemetry engine, kind ``heartbeat``
about the ``sos_device``, ``PUT /api/v1/elderly-sos/devices/me/state``); silent for
``INACTIVITY`` the engine marks it offline once (with any number of workers) and
``went_silent`` raises an alarm of kind ``inactivity`` for its wearer: offered to the operators
and escalated like a press (joined to an alarm of the person that is still open instead). A
device worn by nobody raises nothing (its silence stays a telemetry alert to the call centre's
managers)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, object_session

from app.clock import Clock
from app.context import current_clock
from auth.models import Device
from scenarios.elderly_sos.models import SosAlarm, SosDevice, SosEnrolment
from scenarios.engines.telemetry import service as telemetry
from scenarios.engines.telemetry.config import Field, ReadingKind, SubjectType, TelemetryConfig, register

INACTIVITY = timedelta(hours=12)
"""A worn device silent this long raises an ``inactivity`` alarm (the configured hours)."""


def _load(session: Session, subject_id: Any) -> SosDevice | None:
    return session.get(SosDevice, int(subject_id))


def _owner(device: SosDevice) -> int:
    """The call centre the device belongs to."""
    session = object_session(device)
    return session.scalar(sa.select(Device.organisation_id).where(Device.id == device.device_id))  # type: ignore[union-attr]


def went_silent(session: Session, device: Any, subject: SosDevice | None) -> None:
    """``ReadingKind.on_offline``: the wearer's ``inactivity`` alarm (see the module docstring)."""
    from scenarios.elderly_sos import CONFIG
    from scenarios.elderly_sos.alarms import OPEN_STATES, open_alarm, record
    from scenarios.elderly_sos.places import call_centre

    if subject is None or subject.enrolment_id is None:
        return
    enrolment = session.scalar(sa.select(SosEnrolment).where(SosEnrolment.id == subject.enrolment_id)
                               .with_for_update())
    if enrolment is None or enrolment.state != "active":
        return
    clock: Clock = current_clock()
    already = session.scalar(sa.select(SosAlarm).where(SosAlarm.enrolment_id == enrolment.id,
                                                       SosAlarm.state.in_(OPEN_STATES)).limit(1))
    if already is not None:
        record(session, already, "inactivity", clock.now(), device=subject.id)
        return
    open_alarm(session, clock=clock, config=CONFIG, kind="inactivity", enrolment=enrolment, device=subject,
               raised_by=None, centre=call_centre(session, subject), committee_id=enrolment.committee_org_id)


TELEMETRY = register(TelemetryConfig(
    slug="elderly-sos",
    title_zh="高龄老人应急呼叫设备",
    subjects=(SubjectType("sos_device", load=_load, organisation_of=_owner),),
    kinds=(ReadingKind("heartbeat", "sos_device", fields=(
        Field("battery_pct", "int", minimum=0, maximum=100, required=False),),
        device_kinds=("sensor",), silent_after=INACTIVITY, on_offline=went_silent, silent_urgent=True),),
    staff_roles=("manager", "operator"),
    alert_roles=("manager",),
))


def watch(session: Session, *, clock: Clock, device: SosDevice) -> None:
    """Bind the device's heartbeat to it (from its registration on)."""
    telemetry.bind(session, config=TELEMETRY, kind="heartbeat", device_id=device.device_id, subject_id=device.id,
                   clock=clock)
