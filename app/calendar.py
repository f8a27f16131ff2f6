"""The platform's calendar: working days, holidays and make-up working days (调休).

Every engine that counts working time takes it from here: the workflow engine's business
SLAs, doctors' schedules (booking), review deadlines (approval). A working day is a
Monday–Friday that is not a holiday, or a weekend day listed as a make-up working day
(``calendar_days``); working hours are ``[work_start, work_end)`` in Beijing time (no daylight
saving). ``Calendar.add`` moves a start time forward by an amount of working time;
``seconds_between`` measures the working time between two instants (negative when the second
is earlier). ``add(add(t, a), b) == add(t, a + b)`` for positive amounts.

``load_calendar_days`` loads the State Council's schedule (idempotent) and sends
``calendar_changed`` when it changed anything, so processes drop what they derived from it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from blinker import Signal
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base
from app.fields import CST

DAY_KINDS = ("holiday", "workday")
MAX_DAYS = 3660
"""Bound on the day-by-day walk (ten years): a calendar with no working day ends in an error."""

calendar_changed = Signal("calendar_changed")
"""Sent (no arguments) after ``load_calendar_days`` changed a day in this process."""


class CalendarDay(Base):
    """A day that breaks the weekly rule: a holiday on a weekday, or a working weekend day (调休)."""

    __tablename__ = "calendar_days"
    __table_args__ = (sa.CheckConstraint("kind IN ('holiday', 'workday')", name="kind_known"),)

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(60))


@dataclass(frozen=True)
class Calendar:
    kind: str = "24x7"
    work_start_minute: int = 9 * 60
    work_end_minute: int = 17 * 60
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def _hours(self, day: date) -> tuple[datetime, datetime]:
        midnight = datetime.combine(day, time(0), CST)
        return (midnight + timedelta(minutes=self.work_start_minute),
                midnight + timedelta(minutes=self.work_end_minute))

    def add(self, start: datetime, seconds: float) -> datetime:
        """``start`` plus ``seconds`` of (working) time, as an aware UTC datetime."""
        if self.kind == "24x7" or seconds <= 0:
            return (start + timedelta(seconds=max(seconds, 0))).astimezone(UTC)
        t = start.astimezone(CST)
        remaining = float(seconds)
        for _ in range(MAX_DAYS):
            day = t.date()
            if self.is_working_day(day):
                begin, end = self._hours(day)
                t = max(t, begin)
                if t < end:
                    available = (end - t).total_seconds()
                    if remaining <= available:
                        return (t + timedelta(seconds=remaining)).astimezone(UTC)
                    remaining -= available
            t = datetime.combine(day + timedelta(days=1), time(0), CST)
        raise ValueError("the business calendar has no working time within ten years")

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Working seconds from ``start`` to ``end`` (negative when ``end`` is earlier)."""
        if end < start:
            return -self.seconds_between(end, start)
        if self.kind == "24x7":
            return (end - start).total_seconds()
        a, b = start.astimezone(CST), end.astimezone(CST)
        total = 0.0
        day = a.date()
        for _ in range(MAX_DAYS):
            if day > b.date():
                break
            if self.is_working_day(day):
                begin, finish = self._hours(day)
                lo, hi = max(begin, a), min(finish, b)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total


def business_calendar(session: Session, *, work_start_minute: int = 9 * 60,
                      work_end_minute: int = 17 * 60) -> Calendar:
    """The business calendar with these working hours, holidays and make-up days read from the table."""
    rows = session.execute(sa.select(CalendarDay.day, CalendarDay.kind)).all()
    return Calendar(
        "business",
        work_start_minute=work_start_minute,
        work_end_minute=work_end_minute,
        holidays=frozenset(d for d, k in rows if k == "holiday"),
        workdays=frozenset(d for d, k in rows if k == "workday"),
    )


# 国务院办公厅关于2026年部分节假日安排的通知 (4 November 2025).
CHINA_2026: tuple[tuple[str, str, str, str], ...] = (
    # (first day, last day, kind, name)
    ("2026-01-01", "2026-01-03", "holiday", "元旦"),
    ("2026-01-04", "2026-01-04", "workday", "元旦调休"),
    ("2026-02-14", "2026-02-14", "workday", "春节调休"),
    ("2026-02-15", "2026-02-23", "holiday", "春节"),
    ("2026-02-28", "2026-02-28", "workday", "春节调休"),
    ("2026-04-04", "2026-04-06", "holiday", "清明节"),
    ("2026-05-01", "2026-05-05", "holiday", "劳动节"),
    ("2026-05-09", "2026-05-09", "workday", "劳动节调休"),
    ("2026-06-19", "2026-06-21", "holiday", "端午节"),
    ("2026-09-20", "2026-09-20", "workday", "国庆节调休"),
    ("2026-09-25", "2026-09-27", "holiday", "中秋节"),
    ("2026-10-01", "2026-10-07", "holiday", "国庆节"),
    ("2026-10-10", "2026-10-10", "workday", "国庆节调休"),
)


def expand(ranges: tuple[tuple[str, str, str, str], ...] = CHINA_2026) -> list[dict[str, object]]:
    rows = []
    for first, last, kind, name in ranges:
        day, end = date.fromisoformat(first), date.fromisoformat(last)
        while day <= end:
            rows.append({"day": day, "kind": kind, "name": name})
            day += timedelta(days=1)
    return rows


def load_calendar_days(session: Session, rows: list[dict[str, object]] | None = None) -> int:
    """Insert or correct calendar days (idempotent). Returns how many rows changed."""
    rows = expand() if rows is None else rows
    existing = {d: (k, n) for d, k, n in session.execute(
        sa.select(CalendarDay.day, CalendarDay.kind, CalendarDay.name))}
    changed = 0
    for row in rows:
        current = existing.get(row["day"])  # type: ignore[arg-type]
        if current == (row["kind"], row["name"]):
            continue
        if current is None:
            session.add(CalendarDay(**row))
        else:
            day = session.get(CalendarDay, row["day"])
            day.kind, day.name = row["kind"], row["name"]  # type: ignore[union-attr]
        changed += 1
    session.flush()
    if changed:
        calendar_changed.send()
    return changed
