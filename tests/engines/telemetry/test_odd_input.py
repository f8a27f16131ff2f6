"""Odd input from a device is never a 500 and never stores anything: the platform's sweep
(tests/app/test_odd_input.py) calls as residents and staff, who never get past a device
route's guard, so the device routes are swept here, as a bound device."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios.engines.telemetry.models import TmReading
from tests.engines.telemetry.scenario import BASE

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

SWEEP = settings(max_examples=40, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                 max_size=4), max_leaves=12)


def stored(session) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(TmReading))


@pytest.mark.parametrize("body", [
    {"kind": "level", "value": {"level_l": 2**70}},
    {"kind": "level", "value": {"level_l": -(2**70)}},
    {"kind": "level", "value": {"level_l": 1e308 * 10}},
    {"kind": "level", "value": [1, 2]},
    {"kind": "level", "value": "full"},
    {"kind": "level", "value": None},
    {"kind": ["level"], "value": {"level_l": 1}},
    {"kind": "level", "value": {"level_l": 1}, "subject_id": True},
    {"kind": "level", "value": {"level_l": 1}, "subject_id": 2**64},
    {"kind": "level", "value": {"level_l": 1}, "subject_id": "1"},
    {"kind": "level", "value": {"level_l": 1}, "at": "1900-01-01T00:00:00+14:00"},
    {"kind": "level", "value": {"level_l": 1}, "at": "2199-12-31T23:59:59-14:00"},
    {"kind": "level", "value": {"level_l": 1}, "at": "9999-12-31T23:59:59+00:00"},
    {"kind": "level", "value": {"level_l": 1}, "at": 1733300000},
    {"kind": "pump", "value": {"state": "running\u202e"}},
    {"kind": "pump", "value": {"state": "running", "operator": "OP-0001\u200b"}},
    {"kind": "pump", "value": {"state": "x" * 10_000}},
    {"kind": "level\x00", "value": {"level_l": 1}},
    {"kind": "", "value": {"level_l": 1}},
    {"value": {"level_l": 1}},
    {"kind": "level", "value": {"level_l": 1}, "extra": 1},
])
def test_odd_states_are_a_4xx(client, tm, session, body):
    device = "m1" if body.get("kind") == "pump" else "s1"
    resp = client.put(f"{BASE}/devices/me/state", json=body, headers=tm.dev(device))
    assert 400 <= resp.status_code < 500, (body, resp.status_code, resp.get_json())
    assert resp.get_json()["code"] and stored(session) == 0


@pytest.mark.parametrize("body", [
    {"readings": "all"}, {"readings": [1, 2]}, {"readings": [None]}, {"readings": [[{"kind": "level"}]]},
    {"readings": [{"kind": "level", "value": {"level_l": 1}}, {"kind": "level", "value": {"level_l": "x"}}]},
    {"readings": {"0": {"kind": "level", "value": {"level_l": 1}}}}, {}, [],
])
def test_odd_batches_are_a_4xx(client, tm, session, body):
    resp = client.post(f"{BASE}/devices/me/readings", json=body, headers=tm.dev("s1"))
    assert 400 <= resp.status_code < 500, (body, resp.status_code, resp.get_json())
    assert stored(session) == 0


def test_a_body_that_is_not_json_is_a_4xx(client, tm):
    for data in (b"{", b"\xff\xfe", b"NaN", json.dumps({"kind": "level", "value": {"level_l": float("nan")}}).encode()):
        resp = client.put(f"{BASE}/devices/me/state", data=data, content_type="application/json", headers=tm.dev("s1"))
        assert 400 <= resp.status_code < 500, (data, resp.status_code)


@SWEEP
@given(value=JSON)
def test_any_json_value_is_stored_or_refused_never_a_500(client, tm, session, value):
    resp = client.put(f"{BASE}/devices/me/state", json={"kind": "level", "value": value}, headers=tm.dev("s1"))
    assert resp.status_code in (200, 422), (value, resp.status_code, resp.get_json())


@pytest.mark.parametrize(("query", "status"), [
    ("since=1900-01-01T00:00:00%2B14:00", 200), ("until=2199-12-31T23:59:59-14:00", 200),  # the calendar's edges
    ("since=1899-12-31T23:59:59-14:00", 422), ("since=yesterday", 422), ("page=0", 422), ("page_size=100000", 422),
    ("since=2026-01-01T00:00:00", 422), ("since=2026-01-01T00:00:00Z&since=2026-01-02T00:00:00Z", 422)])
def test_odd_ranges_are_answered(client, tm, session, query, status):
    from scenarios.engines.telemetry.models import TmSource

    source_id = session.scalar(sa.select(TmSource.id).where(TmSource.device_id == tm.devices["s1"].id))
    resp = client.get(f"{BASE}/telemetry/sources/{source_id}/readings?{query}", headers=tm.wf.token("manager_a"))
    assert resp.status_code == status, (query, resp.status_code, resp.get_json())
