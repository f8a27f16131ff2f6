"""Readings over HTTP on the engine's test scenario (``tm-test``): the latest state by PUT and
batches by POST, ranges (bounded by the subject), future readings, late readings against the
latest, duplicates, devices of another kind or organisation, subjects that are not theirs."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.fields import CST
from scenarios.engines.telemetry.models import TmReading, TmSource
from tests.engines.telemetry.scenario import BASE, EVENTS

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def put(client, tm, device, **body):
    return client.put(f"{BASE}/devices/me/state", json=body, headers=tm.dev(device))


def iso(clock, seconds: float = 0) -> str:
    return (clock.now() + timedelta(seconds=seconds)).astimezone(CST).isoformat()


def source(session, tm, device, kind="level") -> TmSource:
    session.expire_all()
    return session.scalar(sa.select(TmSource).where(TmSource.device_id == tm.devices[device].id, TmSource.kind == kind))


def test_put_state_becomes_latest_and_history(client, tm, session, clock):
    resp = put(client, tm, "s1", kind="level", value={"level_l": 420.5}, at=iso(clock, -5))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["stored"] and body["latest"] and not body["duplicate"]
    assert (body["subject_type"], body["subject_id"]) == ("tank", 1)
    row = source(session, tm, "s1")
    assert row.latest_value == {"level_l": 420.5} and row.latest_at == clock.now() - timedelta(seconds=5)
    assert EVENTS == [("reading", tm.devices["s1"].uid, 1, "level", {"level_l": 420.5}, True)]
    no_at = put(client, tm, "s1", kind="level", value={"level_l": 421})
    assert no_at.status_code == 200 and no_at.get_json()["latest"]
    assert source(session, tm, "s1").latest_value == {"level_l": 421.0}


def test_a_late_reading_never_overwrites_a_newer_latest(client, tm, session, clock):
    assert put(client, tm, "s1", kind="level", value={"level_l": 300}, at=iso(clock, -10)).get_json()["latest"]
    late = put(client, tm, "s1", kind="level", value={"level_l": 200}, at=iso(clock, -60))
    assert late.status_code == 200
    assert late.get_json()["stored"] and not late.get_json()["latest"]
    row = source(session, tm, "s1")
    assert row.latest_value == {"level_l": 300.0} and row.latest_at == clock.now() - timedelta(seconds=10)
    assert session.scalar(sa.select(sa.func.count()).select_from(TmReading).where(TmReading.source_id == row.id)) == 2
    assert EVENTS[-1][-1] is False  # the hook is told it is not the latest


def test_a_duplicate_is_one_reading(client, tm, session, clock):
    at = iso(clock, -3)
    first = put(client, tm, "s1", kind="level", value={"level_l": 300}, at=at)
    again = put(client, tm, "s1", kind="level", value={"level_l": 999}, at=at)  # same device, kind, time
    assert first.get_json()["stored"]
    assert again.status_code == 200 and again.get_json()["duplicate"] and not again.get_json()["stored"]
    row = source(session, tm, "s1")
    assert row.latest_value == {"level_l": 300.0}
    assert session.scalar(sa.select(sa.func.count()).select_from(TmReading).where(TmReading.source_id == row.id)) == 1
    assert len(EVENTS) == 1


@pytest.mark.parametrize(("value", "code", "field"), [
    ({"level_l": -1}, "reading_out_of_range", "value.level_l"),
    ({"level_l": 1000.5}, "reading_out_of_range", "value.level_l"),  # above tank 1's capacity
    ({"level_l": 50, "temperature_c": 81}, "reading_out_of_range", "value.temperature_c"),
    ({"level_l": "full"}, "validation_error", "value.level_l"),
    ({"level_l": True}, "validation_error", "value.level_l"),
    ({}, "validation_error", "value.level_l"),
    ({"level_l": 5, "colour": "blue"}, "validation_error", "value.colour"),
])
def test_out_of_range_and_malformed_values_are_refused(client, tm, session, clock, value, code, field):
    resp = put(client, tm, "s1", kind="level", value=value, at=iso(clock))
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["code"] == code and field in resp.get_json()["errors"]
    assert source(session, tm, "s1").latest_value is None and EVENTS == []


def test_the_bound_depends_on_the_subject(client, tm):
    assert put(client, tm, "s1", kind="level", value={"level_l": 800}).status_code == 200  # tank 1: 1000 l
    resp = put(client, tm, "s2", kind="level", value={"level_l": 800})  # tank 2: 500 l
    assert resp.status_code == 422 and resp.get_json()["code"] == "reading_out_of_range"


def test_future_readings_are_refused_beyond_the_leeway(client, tm, clock):
    assert put(client, tm, "s1", kind="level", value={"level_l": 1}, at=iso(clock, 29)).status_code == 200
    resp = put(client, tm, "s1", kind="level", value={"level_l": 1}, at=iso(clock, 31))
    assert resp.status_code == 422 and resp.get_json()["code"] == "reading_from_future"
    assert "at" in resp.get_json()["errors"]
    old = put(client, tm, "s1", kind="level", value={"level_l": 1}, at=iso(clock, -31 * 86400))
    assert old.status_code == 422 and old.get_json()["code"] == "reading_out_of_range"
    naive = put(client, tm, "s1", kind="level", value={"level_l": 1}, at="2026-01-01T10:00:00")
    assert naive.status_code == 422


def test_who_may_report_what(client, tm):
    unknown = put(client, tm, "s1", kind="pressure", value={"bar": 1})
    assert unknown.status_code == 422 and unknown.get_json()["code"] == "telemetry_unknown_kind"
    gate = put(client, tm, "gate", kind="level", value={"level_l": 1})
    assert gate.status_code == 403 and gate.get_json()["code"] == "telemetry_wrong_device_kind"
    unbound = put(client, tm, "s1", kind="pump", value={"state": "running"})  # s1 is not bound to a pump
    assert unbound.status_code == 403 and unbound.get_json()["code"] == "telemetry_not_bound"
    other = put(client, tm, "s1", kind="level", value={"level_l": 1}, subject_id=2)  # tank 2 is s2's
    assert other.status_code == 403 and other.get_json()["code"] == "telemetry_not_your_subject"
    foreign = put(client, tm, "sb", kind="level", value={"level_l": 1}, subject_id=1)  # company B's sensor
    assert foreign.status_code == 403 and foreign.get_json()["code"] == "telemetry_not_your_subject"
    assert put(client, tm, "s1", kind="level", value={"level_l": 1}, subject_id=1).status_code == 200
    staff = client.put(f"{BASE}/devices/me/state", json={"kind": "level", "value": {"level_l": 1}},
                       headers=tm.wf.token("manager_a"))
    assert staff.status_code in (401, 403)
    assert client.put(f"{BASE}/devices/me/state", json={"kind": "level", "value": {}}).status_code == 401


def test_a_personal_field_is_checked_and_never_stored(client, tm, session):
    bad = put(client, tm, "m1", kind="pump", value={"state": "running", "operator": "someone"})
    assert bad.status_code == 422 and "value.operator" in bad.get_json()["errors"]
    enum = put(client, tm, "m1", kind="pump", value={"state": "exploded"})
    assert enum.status_code == 422 and enum.get_json()["code"] == "reading_out_of_range"
    ok = put(client, tm, "m1", kind="pump", value={"state": "running", "operator": "OP-0042"})
    assert ok.status_code == 200
    assert EVENTS[-1][4] == {"state": "running", "operator": "OP-0042"}  # the hook gets it
    row = source(session, tm, "m1", "pump")
    assert row.latest_value == {"state": "running"}
    stored = session.scalars(sa.select(TmReading.value).where(TmReading.source_id == row.id)).all()
    assert stored == [{"state": "running"}]


def test_a_batch_in_any_order(client, tm, session, clock):
    readings = [{"kind": "level", "at": iso(clock, -s), "value": {"level_l": 100 + s}} for s in (30, 10, 20)]
    resp = client.post(f"{BASE}/devices/me/readings", json={"readings": readings}, headers=tm.dev("s1"))
    assert resp.status_code == 200, resp.get_json()
    outcomes = resp.get_json()["outcomes"]
    assert [o["latest"] for o in outcomes] == [True, True, True]  # applied oldest first: each was newest then
    assert source(session, tm, "s1").latest_value == {"level_l": 110.0}
    again = client.post(f"{BASE}/devices/me/readings", json={"readings": readings}, headers=tm.dev("s1"))
    assert [o["duplicate"] for o in again.get_json()["outcomes"]] == [True, True, True]


def test_a_bad_reading_refuses_its_whole_batch_by_index(client, tm, session, clock):
    readings = [{"kind": "level", "at": iso(clock, -5), "value": {"level_l": 10}},
                {"kind": "level", "at": iso(clock, 60), "value": {"level_l": 11}}]
    resp = client.post(f"{BASE}/devices/me/readings", json={"readings": readings}, headers=tm.dev("s1"))
    assert resp.status_code == 422 and resp.get_json()["code"] == "reading_from_future"
    assert "readings.1.at" in resp.get_json()["errors"]
    assert source(session, tm, "s1").latest_value is None
    big = [{"kind": "level", "at": iso(clock, -i), "value": {"level_l": 1}} for i in range(21)]
    resp = client.post(f"{BASE}/devices/me/readings", json={"readings": big}, headers=tm.dev("s1"))
    assert resp.status_code == 422 and resp.get_json()["code"] == "telemetry_batch_too_large"
    empty = client.post(f"{BASE}/devices/me/readings", json={"readings": []}, headers=tm.dev("s1"))
    assert empty.status_code == 422


def test_staff_read_latest_and_a_time_range(client, tm, session, clock):
    for s in (50, 40, 30, 20, 10):
        put(client, tm, "s1", kind="level", value={"level_l": 100 + s}, at=iso(clock, -s))
    put(client, tm, "sb", kind="level", value={"level_l": 1})
    h = tm.wf.token("manager_a")
    latest = client.get(f"{BASE}/telemetry/latest?kind=level", headers=h).get_json()
    assert [(x["subject_id"], x["latest_value"], x["status"]) for x in latest["items"]] == [
        (1, {"level_l": 110.0}, "online"), (2, None, "online")]  # company B's tank 3 is not A's
    src = source(session, tm, "s1").id
    url = f"{BASE}/telemetry/sources/{src}/readings"
    page = client.get(f"{url}?since={iso(clock, -40)}&until={iso(clock, -10)}&page_size=2".replace("+", "%2B"),
                      headers=h).get_json()
    assert page["total"] == 3 and [r["value"]["level_l"] for r in page["items"]] == [120.0, 130.0]
    page2 = client.get(f"{url}?since={iso(clock, -40)}&until={iso(clock, -10)}&page_size=2&page=2"
                       .replace("+", "%2B"), headers=h).get_json()
    assert [r["value"]["level_l"] for r in page2["items"]] == [140.0]
    assert client.get(url, headers=tm.wf.token("manager_b")).status_code == 404
    assert client.get(url, headers=tm.wf.token("tech_a")).status_code == 403
    assert client.get(url, headers=tm.dev("s1")).status_code == 403  # the device sees its source, not the history
    assert client.get(url, headers=tm.dev("s2")).status_code == 404


def test_history_serves_a_scenarios_figures_by_subject_kind_and_range(client, tm, session, clock):
    """``service.history``: the readings of one kind about the subjects asked, since ≤ at < until,
    oldest first — not another kind's, not another subject's."""
    from scenarios.engines.telemetry import service as svc
    from tests.engines.telemetry.scenario import CONFIG

    for s in (50, 40, 30, 20):
        put(client, tm, "s1", kind="level", value={"level_l": 100 + s}, at=iso(clock, -s))
    put(client, tm, "s2", kind="level", value={"level_l": 7}, at=iso(clock, -30))
    assert put(client, tm, "sb", kind="level", value={"level_l": 9}, at=iso(clock, -30)).status_code == 200
    assert put(client, tm, "m1", kind="pump", value={"state": "running"}, at=iso(clock, -30)).status_code == 200
    found = svc.history(session, config=CONFIG, kind="level", subject_ids=[1, 2],
                        since=clock.now() - timedelta(seconds=40), until=clock.now() - timedelta(seconds=20))
    assert [(subject, value) for subject, _, value in found] == [
        (1, {"level_l": 140.0}), (1, {"level_l": 130.0}), (2, {"level_l": 7.0})]  # 20 s ago: excluded
    assert [at for _, at, _ in found] == sorted(at for _, at, _ in found)
    assert svc.history(session, config=CONFIG, kind="level", subject_ids=[], since=clock.now(),
                       until=clock.now()) == []
