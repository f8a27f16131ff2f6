"""The fee of a stay from a car park's tariff, as data (``Tariff``), and what a contract makes free.

The rule (金山区 public car parks' usual one): nothing within the free minutes after entry;
then the first hour, then every half hour begun; at most the daily cap for each 24 hours from
entry (a full 24 hours costs the cap, the hours after it are priced again from the first
hour). A contract (错峰共享) makes its hours free: the minutes of the stay inside the
contract's daily window on the contract's dates are taken out, and the rest is priced as
one stay. A night window crosses midnight (19:00–07:00 belongs to the date it starts on).
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app.fields import CST

DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class Tariff:
    first_hour_fen: int
    half_hour_fen: int
    daily_cap_fen: int
    free_minutes: int = 15

    def __post_init__(self) -> None:
        if min(self.first_hour_fen, self.half_hour_fen, self.free_minutes) < 0:
            raise ValueError("a tariff's amounts and free minutes are never negative")
        if self.daily_cap_fen < self.first_hour_fen:
            raise ValueError("the daily cap is at least the first hour")
        if self.free_minutes >= 60:
            raise ValueError("free minutes are under an hour")

    @classmethod
    def of(cls, data: dict) -> Tariff:
        return cls(**{k: int(data[k]) for k in ("first_hour_fen", "half_hour_fen", "daily_cap_fen", "free_minutes")
                      if k in data})

    def as_dict(self) -> dict[str, int]:
        return {"first_hour_fen": self.first_hour_fen, "half_hour_fen": self.half_hour_fen,
                "daily_cap_fen": self.daily_cap_fen, "free_minutes": self.free_minutes}

    def _part(self, minutes: int) -> int:
        if minutes <= 0:
            return 0
        halves = math.ceil(max(0, minutes - 60) / 30)
        return min(self.daily_cap_fen, self.first_hour_fen + halves * self.half_hour_fen)

    def fee(self, minutes: int) -> int:
        """The fee in fen of a stay of ``minutes`` chargeable minutes."""
        if minutes <= self.free_minutes:
            return 0
        days, rest = divmod(minutes, DAY_MINUTES)
        return days * self.daily_cap_fen + self._part(rest)


@dataclass(frozen=True)
class Window:
    """A contract's daily hours on its dates: ``start``–``end`` minutes of the Beijing day;
    ``end <= start`` crosses midnight (ends the next day)."""

    starts_on: date
    ends_on: date
    start_minute: int
    end_minute: int

    @property
    def crosses_midnight(self) -> bool:
        return self.end_minute <= self.start_minute

    def intervals(self, first: date, last: date) -> Iterable[tuple[datetime, datetime]]:
        """The window's instants on the dates ``first``…``last`` that are the contract's."""
        day = max(first, self.starts_on)
        while day <= min(last, self.ends_on):
            start = datetime.combine(day, time(0), CST) + timedelta(minutes=self.start_minute)
            end_day = day + timedelta(days=1) if self.crosses_midnight else day
            yield start, datetime.combine(end_day, time(0), CST) + timedelta(minutes=self.end_minute)
            day += timedelta(days=1)


def covered_seconds(entered: datetime, exited: datetime, windows: Iterable[Window]) -> int:
    """Seconds of ``[entered, exited)`` inside any of the windows (overlaps counted once)."""
    first = entered.astimezone(CST).date() - timedelta(days=1)
    last = exited.astimezone(CST).date()
    spans = sorted((max(s, entered), min(e, exited)) for w in windows for s, e in w.intervals(first, last)
                   if s < exited and e > entered)
    total, reach = 0.0, entered
    for start, end in spans:
        start = max(start, reach)
        if end > start:
            total += (end - start).total_seconds()
            reach = end
    return int(total)


def chargeable_minutes(entered: datetime, exited: datetime, windows: Iterable[Window] = ()) -> int:
    """Minutes begun of the stay outside the contracts' hours."""
    seconds = max(0, int((exited - entered).total_seconds()) - covered_seconds(entered, exited, windows))
    return math.ceil(seconds / 60)


def fee(tariff: Tariff, entered: datetime, exited: datetime, windows: Iterable[Window] = ()) -> int:
    """The fee in fen of a stay, its contracts' hours free."""
    return tariff.fee(chargeable_minutes(entered, exited, windows))


def windows_overlap(a: Window, b: Window) -> bool:
    """Whether two contracts' hours ever meet (the same space cannot carry both)."""
    first = max(a.starts_on, b.starts_on) - timedelta(days=1)
    last = min(a.ends_on, b.ends_on) + timedelta(days=1)
    if first > last:
        return False
    mine = list(a.intervals(first, last))
    return any(s < e2 and s2 < e for s, e in mine for s2, e2 in b.intervals(first, last))
