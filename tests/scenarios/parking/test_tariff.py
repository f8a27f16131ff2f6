"""The tariff: first hour, every half hour begun, the daily cap per 24 hours; a contract's hours
free, a night contract's across midnight. Worked examples, then properties (hypothesis)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.fields import CST
from scenarios.parking.tariff import Tariff, Window, chargeable_minutes, covered_seconds, fee, windows_overlap

T = Tariff(first_hour_fen=1000, half_hour_fen=500, daily_cap_fen=6000, free_minutes=15)
NIGHT_DEC = Window(date(2026, 12, 1), date(2026, 12, 31), 19 * 60, 7 * 60)


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


@pytest.mark.parametrize(("minutes", "fen"), [
    (0, 0), (15, 0), (16, 1000), (60, 1000), (61, 1500), (90, 1500), (91, 2000), (120, 2000),
    (600, 6000), (1439, 6000), (1440, 6000), (1441, 7000), (1440 + 90, 7500), (2 * 1440, 12000)])
def test_first_hour_then_half_hours_then_the_daily_cap(minutes, fen):
    assert T.fee(minutes) == fen


def test_a_night_contract_makes_its_hours_free_across_midnight():
    assert fee(T, at(3, 20), at(4, 6, 30), [NIGHT_DEC]) == 0
    # an hour before and an hour after the window: two hours charged as one stay
    assert chargeable_minutes(at(3, 18), at(4, 8), [NIGHT_DEC]) == 120
    assert fee(T, at(3, 18), at(4, 8), [NIGHT_DEC]) == 2000
    # the last night of December is the contract's and ends on 1 January at 07:00
    assert fee(T, at(31, 20), datetime(2027, 1, 1, 7, tzinfo=CST), [NIGHT_DEC]) == 0
    # the night before the contract's first date is not
    assert chargeable_minutes(at(30, 23, month=11), at(1, 6), [NIGHT_DEC]) == 420


def test_a_day_contract_does_not_cover_the_night():
    day = Window(date(2026, 12, 1), date(2026, 12, 31), 8 * 60, 18 * 60)
    assert chargeable_minutes(at(3, 9), at(3, 17), [day]) == 0
    assert chargeable_minutes(at(3, 17), at(3, 20), [day]) == 120


@pytest.mark.parametrize(("a", "b", "meet"), [
    (NIGHT_DEC, Window(date(2026, 12, 1), date(2026, 12, 31), 8 * 60, 18 * 60), False),
    (NIGHT_DEC, Window(date(2026, 12, 15), date(2027, 1, 14), 6 * 60, 8 * 60), True),
    (NIGHT_DEC, Window(date(2027, 1, 1), date(2027, 1, 31), 6 * 60, 8 * 60), True),  # 1 Jan 06:00–07:00
    (NIGHT_DEC, Window(date(2027, 1, 2), date(2027, 1, 31), 6 * 60, 8 * 60), False),
    (NIGHT_DEC, Window(date(2027, 1, 1), date(2027, 1, 31), 19 * 60, 7 * 60), False),
    (NIGHT_DEC, Window(date(2026, 11, 1), date(2026, 11, 30), 22 * 60, 7 * 60), False),  # 30 Nov 22:00–1 Dec 07:00
    (NIGHT_DEC, Window(date(2026, 11, 1), date(2026, 12, 1), 18 * 60, 20 * 60), True),  # 1 Dec 19:00–20:00
])
def test_contracts_meet_when_their_hours_do(a, b, meet):
    assert windows_overlap(a, b) is meet and windows_overlap(b, a) is meet


minutes_of_day = st.integers(min_value=0, max_value=1439)
instants = st.datetimes(min_value=datetime(2026, 11, 20), max_value=datetime(2027, 1, 10)).map(
    lambda d: d.replace(tzinfo=CST))
tariffs = st.builds(lambda first, half, extra, free: Tariff(first, half, first + extra, free),
                    st.integers(0, 5000), st.integers(0, 3000), st.integers(0, 20000), st.integers(0, 59))
DEC_1 = date(2026, 12, 1)
windows = st.builds(lambda s, e, d, n: Window(DEC_1 + timedelta(days=d), DEC_1 + timedelta(days=d + n), s,
                                              e if e != s else (s + 1) % 1440),
                    minutes_of_day, minutes_of_day, st.integers(-15, 30), st.integers(0, 40))


@settings(max_examples=300, deadline=None)
@given(tariffs, st.integers(0, 5 * 1440), st.integers(0, 3 * 1440))
def test_a_longer_stay_never_costs_less_and_a_day_never_more_than_the_cap(t, minutes, more):
    assert 0 <= t.fee(minutes) <= t.fee(minutes + more)
    days = -(-minutes // 1440)
    assert t.fee(minutes) <= max(days, 1) * t.daily_cap_fen
    assert t.fee(minutes + 1440) == t.fee(minutes) + t.daily_cap_fen or minutes <= t.free_minutes


@settings(max_examples=300, deadline=None)
@given(tariffs, instants, st.integers(0, 4 * 1440), st.lists(windows, max_size=3))
def test_contracts_only_ever_take_minutes_off(t, entered, minutes, ws):
    exited = entered + timedelta(minutes=minutes)
    charged = chargeable_minutes(entered, exited, ws)
    assert 0 <= charged <= minutes
    assert fee(t, entered, exited, ws) <= fee(t, entered, exited)
    assert chargeable_minutes(entered, exited, ws[:1]) >= charged  # more contracts, fewer minutes


@settings(max_examples=200, deadline=None)
@given(instants, st.integers(1, 3 * 1440), windows)
def test_covered_minutes_are_those_inside_the_window_minute_by_minute(entered, minutes, w):
    entered = entered.replace(second=0, microsecond=0)
    exited = entered + timedelta(minutes=minutes)
    inside = 0
    for i in range(minutes):
        t = (entered + timedelta(minutes=i)).astimezone(CST)
        m = t.hour * 60 + t.minute
        own = t.date() if (w.crosses_midnight is False or m >= w.start_minute) else t.date() - timedelta(days=1)
        in_hours = (w.start_minute <= m < w.end_minute) if not w.crosses_midnight else (
            m >= w.start_minute or m < w.end_minute)
        inside += in_hours and w.starts_on <= own <= w.ends_on
    assert chargeable_minutes(entered, exited, [w]) == minutes - inside


@settings(max_examples=200, deadline=None)
@given(windows, windows)
def test_overlap_is_symmetric_and_matches_a_minute_walk(a, b):
    assert windows_overlap(a, b) == windows_overlap(b, a)
    first = min(a.starts_on, b.starts_on) - timedelta(days=1)
    last = max(a.ends_on, b.ends_on) + timedelta(days=1)
    brute = any(covered_seconds(s, e, [b]) > 0 for s, e in a.intervals(first, last))
    assert windows_overlap(a, b) == brute
