"""How long elderly-sos keeps what it holds, enforced by the platform's ``enforce_retention``
(hourly) through the purges below (``personal_data.PERSONAL_DATA.retention``).

The periods are an assumption of ours until 区民政局 confirms them (the README says so):

- an alarm and its trail are the call centre's service record: kept ``SERVICE_RECORD`` (3
  years) after the alarm closed, then deleted together; an alarm not closed is never deleted
  (someone must still act on it);
- health notes and emergency contacts serve only to answer alarms: kept while the enrolment
  is active and ``AFTER_END`` (1 year: a complaint, an inquiry into a death) after it ended,
  then the notes are cleared and the contacts deleted;
- the enrolment itself (address, home point, dates, reason) is the committee's registration
  file: deleted ``SERVICE_RECORD`` after it ended, once none of its alarms is left.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scenarios.elderly_sos.models import SosAlarm, SosAlarmEvent, SosContact, SosDevice, SosEnrolment

SERVICE_RECORD = timedelta(days=3 * 365)
AFTER_END = timedelta(days=365)
_SYNC = {"synchronize_session": False}


def _old_alarms(cutoff: datetime) -> sa.Select:
    return sa.select(SosAlarm.id).where(SosAlarm.state == "closed", SosAlarm.closed_at < cutoff)


def purge_alarm_events(session: Session, cutoff: datetime) -> int:
    """The trail of alarms closed before ``cutoff``."""
    stmt = sa.delete(SosAlarmEvent).where(SosAlarmEvent.alarm_id.in_(_old_alarms(cutoff)))
    return session.execute(stmt, execution_options=_SYNC).rowcount or 0


def purge_alarms(session: Session, cutoff: datetime) -> int:
    """Alarms closed before ``cutoff``, with their trail (whichever purge runs first)."""
    purge_alarm_events(session, cutoff)
    stmt = sa.delete(SosAlarm).where(SosAlarm.state == "closed", SosAlarm.closed_at < cutoff)
    return session.execute(stmt, execution_options=_SYNC).rowcount or 0


def _ended_before(cutoff: datetime) -> sa.Select:
    return sa.select(SosEnrolment.id).where(SosEnrolment.state == "ended", SosEnrolment.ended_on < cutoff.date())


def purge_contacts(session: Session, cutoff: datetime) -> int:
    """Emergency contacts of enrolments ended before ``cutoff``."""
    stmt = sa.delete(SosContact).where(SosContact.enrolment_id.in_(_ended_before(cutoff)))
    return session.execute(stmt, execution_options=_SYNC).rowcount or 0


def purge_enrolments(session: Session, cutoff: datetime) -> int:
    """``cutoff`` = now - ``AFTER_END``: health notes of enrolments ended before it cleared (and
    their contacts deleted); enrolments ended ``SERVICE_RECORD`` ago with no alarm left deleted.
    Returns the rows changed or deleted."""
    cleared = session.execute(sa.update(SosEnrolment).where(SosEnrolment.id.in_(_ended_before(cutoff)),
                                                           SosEnrolment.health.is_not(None))
                              .values(health=None), execution_options=_SYNC).rowcount or 0
    purge_contacts(session, cutoff)
    old = cutoff - (SERVICE_RECORD - AFTER_END)
    has_alarm = sa.select(SosAlarm.id).where(SosAlarm.enrolment_id == SosEnrolment.id).exists()
    worn = sa.select(SosDevice.id).where(SosDevice.enrolment_id == SosEnrolment.id).exists()
    deleted = session.execute(sa.delete(SosEnrolment).where(SosEnrolment.id.in_(_ended_before(old)), ~has_alarm,
                                                            ~worn), execution_options=_SYNC).rowcount or 0
    return cleared + deleted
