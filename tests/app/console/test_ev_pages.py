"""Charger operators' console pages: their piles with the state now, the sessions of a day and
revenue per day (chart and table) — the API's operator services; only the acting
organisation's own piles and sessions, 403 for staff of other kinds."""
from __future__ import annotations

import pytest

from tests.scenarios.ev_charging.test_ev_charging import T0, all_free, start, t0, w  # noqa: F401  (fixtures)
from tests.scenarios.ev_charging.world import BASE, energy, state
from tests.support.console import sign_in

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
EV = "/console/ev"


def _as(app, w, who: str):  # noqa: F811
    client = app.test_client()
    sign_in(client, w.people[who][0].username)
    return client


def test_an_operator_sees_its_piles_sessions_and_revenue_and_no_one_elses(app, client, clock, w):  # noqa: F811
    all_free(client, w)
    clock.advance(seconds=1)  # a reading at the same instant would be the same reading
    assert state(client, w, "ev-a-2", "fault").status_code == 200
    sid = start(client, w, "alice", "ev-a-1", key="alice").get_json()["id"]
    assert energy(client, w, "ev-a-1", 10.0).status_code == 200
    client.post(f"{BASE}/sessions/{sid}/stop", json={}, headers=w.h["alice"])
    start(client, w, "bob", "ev-b-1", key="bob")
    staff = _as(app, w, "staff_a")
    piles = staff.get(f"{EV}/piles").get_data(as_text=True)
    assert 'id="pile-ev-a-1"' in piles and 'id="pile-ev-b-1"' not in piles and "故障" in piles
    faults = staff.get(f"{EV}/piles?state=fault").get_data(as_text=True)
    assert 'id="pile-ev-a-2"' in faults and 'id="pile-ev-a-1"' not in faults
    assert staff.get(f"{EV}/piles?state=broken").status_code == 422
    paged = staff.get(f"{EV}/piles?page_size=1").get_data(as_text=True)
    assert "?state=&amp;page=2" in paged and "上一页" not in paged
    day = T0.date().isoformat()
    sessions = staff.get(f"{EV}/sessions?date={day}").get_data(as_text=True)
    assert f'id="session-{sid}"' in sessions and "ev-b-1" not in sessions and "王丽" not in sessions
    assert f'id="session-{sid}"' in staff.get(f"{EV}/sessions").get_data(as_text=True)  # today by default
    revenue = staff.get(f"{EV}/revenue?date_from={day}&date_to={day}")
    text = revenue.get_data(as_text=True)
    assert revenue.status_code == 200 and "<svg" in text and "14.70" in text  # 10 kWh × 1.47 元
    assert staff.get(f"{EV}/revenue?date_from=2026-01-01&date_to=2026-06-01").status_code == 422
    other = _as(app, w, "manager_b")
    assert "14.70" not in other.get(f"{EV}/revenue?date_from={day}&date_to={day}").get_data(as_text=True)
    company = _as(app, w, "company")
    for page in ("piles", "sessions", "revenue"):
        assert company.get(f"{EV}/{page}").status_code == 403
