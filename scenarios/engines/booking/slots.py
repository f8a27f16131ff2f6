"""Slots from opening rules and the platform calendar, for a rolling window of days.

A resource's ``calendar``: ``every_day`` (its weekly hours, holidays included: a sports
court), ``closed_on_holidays`` (no slots on a public holiday), ``working_days`` (a clinic:
slots only on working days; a make-up working day 调休 takes Monday's hours). Generation is
idempotent (a slot is unique per resource and start; an existing slot is never changed), so
the periodic job and a resource's creation may both run it.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.calendar import Calendar, business_calendar
from app.db import insert_for
from app.fields import CST
from scenarios.engines.booking.models import BkOpeningRule, BkResource, BkSlot


def rules_for_day(calendar: Calendar, resource: BkResource, rules: list[BkOpeningRule], day: date
                  ) -> list[BkOpeningRule]:
    """The opening rules that apply to ``day`` under the resource's calendar."""
    if resource.calendar == "closed_on_holidays" and day in calendar.holidays:
        return []
    weekday = day.weekday()
    if resource.calendar == "working_days":
        if not calendar.is_working_day(day):
            return []
        if weekday >= 5:  # a make-up working day (调休) keeps Monday's hours
            weekday = 0
    return [r for r in rules if r.weekday == weekday]


def slot_rows(calendar: Calendar, resource: BkResource, rules: list[BkOpeningRule], first: date, days: int
              ) -> list[dict]:
    rows = []
    step = timedelta(minutes=resource.slot_minutes)
    for offset in range(days):
        day = first + timedelta(days=offset)
        midnight = datetime.combine(day, time(0), CST)
        for rule in rules_for_day(calendar, resource, rules, day):
            start = midnight + timedelta(minutes=rule.opens_minute)
            close = midnight + timedelta(minutes=rule.closes_minute)
            while start + step <= close:
                rows.append({"resource_id": resource.id, "scenario": resource.scenario, "starts_at": start,
                             "ends_at": start + step, "capacity": resource.capacity, "booked": 0, "held": 0,
                             "status": "open", "label": rule.label})
                start += step
    return rows


def generate(session: Session, resource: BkResource, *, first: date, days: int,
             calendar: Calendar | None = None) -> int:
    """Create the resource's missing slots for ``days`` days from ``first``. Returns how many."""
    if not resource.active:
        return 0
    calendar = calendar or business_calendar(session)
    rules = list(session.scalars(sa.select(BkOpeningRule).where(BkOpeningRule.resource_id == resource.id)))
    rows = slot_rows(calendar, resource, rules, first, days)
    if not rows:
        return 0
    stmt = insert_for(session, BkSlot.__table__).on_conflict_do_nothing(
        index_elements=["resource_id", "starts_at"]).returning(BkSlot.__table__.c.id)
    return len(session.execute(stmt, rows).all())


def extend_all(session: Session, *, today: date, window_days: dict[str, int]) -> int:
    """Every active resource's slots up to its scenario's window (the periodic job)."""
    calendar = business_calendar(session)
    made = 0
    for resource in session.scalars(sa.select(BkResource).where(BkResource.active.is_(True))):
        made += generate(session, resource, first=today, days=window_days.get(resource.scenario, 14),
                         calendar=calendar)
    return made
