"""The calendar a ticket's SLA counts in: 24/7, or the platform's business calendar
(``app.calendar``: working hours, holidays and make-up working days 调休) with the policy's
working hours."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.calendar import Calendar, business_calendar
from scenarios.engines.workflow.models import SlaPolicy


def calendar_for(session: Session, policy: SlaPolicy) -> Calendar:
    """The calendar a policy counts in."""
    if policy.calendar == "24x7":
        return Calendar("24x7")
    return business_calendar(session, work_start_minute=policy.work_start_minute,
                             work_end_minute=policy.work_end_minute)
