"""Retention of SOS records (retention.py), enforced by the platform's ``enforce_retention``:
alarms and their trail 3 years after closing (never while open); health notes and contacts 1
year after the enrolment ended; the enrolment 3 years after, once its alarms are gone."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.privacy.retention import enforce_retention, schedule
from scenarios.elderly_sos.models import SosAlarm, SosAlarmEvent, SosContact, SosEnrolment

DAY = timedelta(days=1)


def _count(sos, model, *where) -> int:
    sos.session.expire_all()
    return sos.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _enforce(sos, days: float) -> None:
    sos.clock.advance(days=days)
    enforce_retention(sos.session, sos.clock)
    sos.session.commit()


def _closed_alarm(sos) -> int:
    sos.on_duty("op1")
    alarm = sos.press()
    sos.ack("op1", alarm)
    sos.act("op1", alarm["id"], "close", {"outcome": "false_alarm"})
    return alarm["id"]


def test_the_schedule_names_periods_and_purges(app):
    entries = {k.table: k for k in schedule() if k.table.startswith("sos_")}
    assert entries["sos_alarms"].keep == 3 * 365 * DAY and entries["sos_alarms"].purge is not None
    assert entries["sos_enrolments"].keep == 365 * DAY and "期限待定" not in entries["sos_enrolments"].basis_zh


def test_alarms_go_three_years_after_closing_open_ones_never(sos):
    closed = _closed_alarm(sos)
    sos.clock.advance(seconds=200)  # past the merge window: a second, still open alarm
    still_open = sos.press()["id"]
    _enforce(sos, 3 * 365 - 1)
    assert _count(sos, SosAlarm) == 2 and _count(sos, SosAlarmEvent, SosAlarmEvent.alarm_id == closed) > 0
    _enforce(sos, 2)
    assert _count(sos, SosAlarm, SosAlarm.id == closed) == 0
    assert _count(sos, SosAlarmEvent, SosAlarmEvent.alarm_id == closed) == 0
    assert _count(sos, SosAlarm, SosAlarm.id == still_open) == 1
    assert _count(sos, SosAlarmEvent, SosAlarmEvent.alarm_id == still_open) > 0


def test_health_and_contacts_a_year_after_the_end_the_enrolment_after_three(sos):
    eid = sos.enrolment_id
    _closed_alarm(sos)
    _enforce(sos, 400)  # active: nothing goes, however long
    assert sos.session.get(SosEnrolment, eid).health and _count(sos, SosContact, SosContact.enrolment_id == eid) == 2
    sos.call("POST", "member", f"/enrolments/{eid}/end", {"reason": "moved_in_with_family"})
    _enforce(sos, 364)
    assert sos.session.get(SosEnrolment, eid).health is not None
    _enforce(sos, 2)
    enrolment = sos.session.get(SosEnrolment, eid)
    assert enrolment.health is None and enrolment.address  # the registration file stays
    assert _count(sos, SosContact, SosContact.enrolment_id == eid) == 0
    _enforce(sos, 2 * 365 + 1)  # its alarm (closed ~4 years ago) went first, then the enrolment
    assert _count(sos, SosAlarm) == 0 and _count(sos, SosEnrolment, SosEnrolment.id == eid) == 0


def test_an_enrolment_with_an_alarm_left_stays(sos):
    eid = sos.enrolment_id
    sos.press()  # never closed
    sos.call("POST", "member", f"/enrolments/{eid}/end", {"reason": "died"})
    _enforce(sos, 4 * 365)
    assert _count(sos, SosEnrolment, SosEnrolment.id == eid) == 1
