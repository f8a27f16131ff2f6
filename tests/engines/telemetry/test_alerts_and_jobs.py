"""Alerts once per episode (thresholds and silence) told through the outbox, recovery, the
silence job (offline once, back online once) and retention (thinned to hourly, then deleted)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.notify.service import Recipient
from scenarios.engines.telemetry import jobs
from scenarios.engines.telemetry.models import TmAlert, TmReading, TmSource
from tests.engines.telemetry.scenario import EVENTS, EXTRA_RECIPIENTS
from tests.engines.telemetry.test_readings import iso, put, source

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def alerts(session, rule=None):
    session.expire_all()
    stmt = sa.select(TmAlert).order_by(TmAlert.id)
    return list(session.scalars(stmt.where(TmAlert.rule == rule) if rule else stmt))


def told(session):
    rows = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "telemetry_alert")
                           .order_by(OutboxMessage.id))
    return [(m.recipient_kind, m.recipient_id, m.payload["state"], m.payload["rule"], m.urgent) for m in rows]


def test_a_threshold_alerts_once_per_episode_and_recovery_closes_it(client, tm, session, clock):
    EXTRA_RECIPIENTS.append(Recipient("org", 424242))
    manager = str(tm.wf.accounts["manager_a"].id)
    for i, level in enumerate((500, 950, 960, 990)):
        clock.advance(seconds=10)
        assert put(client, tm, "s1", kind="level", value={"level_l": level}).status_code == 200, i
    [alert] = alerts(session, "level_high")
    assert alert.closed_at is None and alert.value == {"level_l": 950.0} and alert.subject_id == 1
    assert told(session) == [("account", manager, "opened", "level_high", True),
                             ("org", "424242", "opened", "level_high", True)]
    late = put(client, tm, "s1", kind="level", value={"level_l": 10}, at=iso(clock, -120))
    assert late.status_code == 200 and alerts(session, "level_low") == []  # a late reading is not the state
    clock.advance(seconds=10)
    put(client, tm, "s1", kind="level", value={"level_l": 700})
    [alert] = alerts(session, "level_high")
    assert alert.closed_at == clock.now()
    assert told(session)[-2:] == [("account", manager, "closed", "level_high", False),
                                  ("org", "424242", "closed", "level_high", False)]
    clock.advance(seconds=10)
    put(client, tm, "s1", kind="level", value={"level_l": 980})  # a new episode
    assert [a.closed_at is None for a in alerts(session, "level_high")] == [False, True]


def test_a_data_threshold_and_the_alert_list(client, tm, session, clock):
    put(client, tm, "s1", kind="level", value={"level_l": 50})
    put(client, tm, "m1", kind="pump", value={"state": "fault"})
    resp = client.get("/api/v1/tm-test/telemetry/alerts", headers=tm.wf.token("manager_a"))
    assert resp.status_code == 200
    assert sorted(a["rule"] for a in resp.get_json()["items"]) == ["level_low", "pump_fault"]
    assert client.get("/api/v1/tm-test/telemetry/alerts", headers=tm.wf.token("manager_b")).get_json()["total"] == 0
    assert client.get("/api/v1/tm-test/telemetry/alerts", headers=tm.wf.token("tech_a")).status_code == 403
    closed = client.get("/api/v1/tm-test/telemetry/alerts?state=closed", headers=tm.wf.token("manager_a"))
    assert closed.get_json()["total"] == 0


def test_silence_marks_offline_once_and_a_reading_brings_it_back_once(client, tm, session, clock):
    put(client, tm, "s1", kind="level", value={"level_l": 400})
    put(client, tm, "m1", kind="pump", value={"state": "running"})
    clock.advance(minutes=4, seconds=59)
    put(client, tm, "s2", kind="level", value={"level_l": 200})
    assert jobs.mark_silent(session, clock=clock) == 0
    clock.advance(seconds=2)
    marked = jobs.mark_silent(session, clock=clock)
    session.commit()
    assert marked == 2  # s1 and company B's sensor; s2 spoke a second ago; a pump is never silent
    assert jobs.mark_silent(session, clock=clock) == 0
    assert source(session, tm, "s1").status == "offline" and source(session, tm, "s2").status == "online"
    assert source(session, tm, "m1", "pump").status == "online"
    assert sorted(e for e in EVENTS if e[0] == "offline") == sorted(
        [("offline", tm.devices["s1"].uid, 1), ("offline", tm.devices["sb"].uid, 3)])
    silent = alerts(session, "silent")
    assert sorted(a.subject_id for a in silent) == [1, 3] and all(a.closed_at is None for a in silent)
    assert ("account", str(tm.wf.accounts["manager_b"].id), "opened", "设备离线", False) in told(session)
    latest = client.get("/api/v1/tm-test/telemetry/latest?kind=level&status=offline", headers=tm.wf.token("manager_a"))
    assert [(s["subject_id"], s["latest_value"]) for s in latest.get_json()["items"]] == [(1, {"level_l": 400.0})]
    clock.advance(seconds=5)
    put(client, tm, "s1", kind="level", value={"level_l": 410})
    put(client, tm, "s1", kind="level", value={"level_l": 420}, at=iso(clock, 1))
    assert [e for e in EVENTS if e[0] == "online"] == [("online", tm.devices["s1"].uid, 1)]
    assert source(session, tm, "s1").status == "online"
    assert [a.closed_at is not None for a in alerts(session, "silent") if a.subject_id == 1] == [True]


def test_retention_thins_to_hourly_then_deletes(tm, session, clock):
    src = source(session, tm, "s1")
    now = clock.now().replace(minute=30, second=0, microsecond=0)
    clock.set(now)

    def add(at):
        session.add(TmReading(source_id=src.id, at=at, hour=int(at.timestamp()) // 3600, value={"level_l": 1.0},
                              received_at=at))

    old_hour = (now - timedelta(days=8)).replace(minute=0)
    recent_hour = (now - timedelta(days=1)).replace(minute=0)
    for base in (old_hour, recent_hour):
        for minutes in (5, 20, 50):
            add(base + timedelta(minutes=minutes))
    add(old_hour + timedelta(hours=1, minutes=1))  # the next hour's only reading stays
    add(now - timedelta(days=31))
    session.commit()
    deleted = jobs.apply_retention(session, clock=clock)
    session.commit()
    kept = session.scalars(sa.select(TmReading.at).where(TmReading.source_id == src.id).order_by(TmReading.at)).all()
    assert deleted == 3
    assert kept == [old_hour + timedelta(minutes=50), old_hour + timedelta(hours=1, minutes=1),
                    *(recent_hour + timedelta(minutes=m) for m in (5, 20, 50))]
    assert jobs.apply_retention(session, clock=clock) == 0


def test_binding_by_staff(client, tm, session):
    h = tm.wf.token("manager_a")
    url = "/api/v1/tm-test/telemetry/bindings"
    resp = client.post(url, json={"device_id": tm.devices["s2"].uid, "kind": "level", "subject_id": 1}, headers=h)
    assert resp.status_code == 200 and resp.get_json()["subject_id"] == 1
    assert session.scalar(sa.select(TmSource.subject_id).where(TmSource.device_id == tm.devices["s2"].id)) == 1
    foreign = client.post(url, json={"device_id": tm.devices["s2"].uid, "kind": "level", "subject_id": 3}, headers=h)
    assert foreign.status_code == 403 and foreign.get_json()["code"] == "telemetry_not_your_subject"
    theirs = client.post(url, json={"device_id": tm.devices["sb"].uid, "kind": "level", "subject_id": 1}, headers=h)
    assert theirs.status_code == 404
    gate = client.post(url, json={"device_id": tm.devices["gate"].uid, "kind": "level", "subject_id": 1}, headers=h)
    assert gate.status_code == 403 and gate.get_json()["code"] == "telemetry_wrong_device_kind"
    nothing = client.post(url, json={"device_id": tm.devices["s2"].uid, "kind": "level", "subject_id": 99}, headers=h)
    assert nothing.status_code == 404
    tech = client.post(url, json={"device_id": tm.devices["s2"].uid, "kind": "level", "subject_id": 1},
                       headers=tm.wf.token("tech_a"))
    assert tech.status_code == 403


def test_an_episode_within_one_batch_opens_and_closes(client, tm, session, clock):
    readings = [{"kind": "level", "at": iso(clock, -s), "value": {"level_l": level}}
                for s, level in ((30, 500), (20, 950), (10, 600))]
    resp = client.post("/api/v1/tm-test/devices/me/readings", json={"readings": readings}, headers=tm.dev("s1"))
    assert resp.status_code == 200
    [alert] = alerts(session, "level_high")
    assert alert.value == {"level_l": 950.0} and alert.closed_at is not None
    assert source(session, tm, "s1").open_alerts == 0
    put(client, tm, "s1", kind="level", value={"level_l": 50})  # below 100: level_low opens
    assert source(session, tm, "s1").open_alerts == 1
    put(client, tm, "s1", kind="level", value={"level_l": 60}, at=iso(clock, 1))
    assert len(alerts(session, "level_low")) == 1 and source(session, tm, "s1").open_alerts == 1


def test_what_a_scenario_reads_latest_for_open_alerts_and_unbind(client, tm, session, clock):
    from scenarios.engines.telemetry import service as svc
    from tests.engines.telemetry.scenario import CONFIG

    svc.bind(session, config=CONFIG, kind="level", device_id=tm.devices["s2"].id, subject_id=1, clock=clock)
    session.commit()  # two sensors on tank 1 now
    put(client, tm, "s1", kind="level", value={"level_l": 300}, at=iso(clock, -20))
    put(client, tm, "s2", kind="level", value={"level_l": 50}, at=iso(clock, -10))  # newer, and low
    found = svc.latest_for(session, config=CONFIG, kind="level", subject_ids=[1, 2, 3])
    assert set(found) == {1, 3}
    assert (found[1].device_id, found[1].value, found[1].online) == (tm.devices["s2"].id, {"level_l": 50.0}, True)
    assert found[3].at is None  # bound, never heard
    assert set(svc.latest_for(session, config=CONFIG, kind="level", organisation_id=tm.wf.world.companies[1].id)) == {3}
    assert [a.rule for a in svc.open_alerts(session, config=CONFIG, subject_ids=[1])] == ["level_low"]
    clock.advance(minutes=6)
    jobs.mark_silent(session, clock=clock)
    session.commit()
    assert svc.latest_for(session, config=CONFIG, kind="level", subject_ids=[1])[1].online is False
    svc.unbind(session, config=CONFIG, kind="level", device_id=tm.devices["s2"].id)
    session.commit()
    assert svc.latest_for(session, config=CONFIG, kind="level", subject_ids=[1])[1].device_id == tm.devices["s1"].id
    assert svc.open_alerts(session, config=CONFIG, subject_ids=[1], rule="level_low") == []
    gone = put(client, tm, "s2", kind="level", value={"level_l": 1})
    assert gone.status_code == 403 and gone.get_json()["code"] == "telemetry_not_bound"


def test_a_batch_honours_its_idempotency_key(client, tm, clock):
    body = {"readings": [{"kind": "level", "at": iso(clock, -1), "value": {"level_l": 5}}]}
    headers = {**tm.dev("s1"), "Idempotency-Key": "tm-batch-000001"}
    first = client.post("/api/v1/tm-test/devices/me/readings", json=body, headers=headers)
    again = client.post("/api/v1/tm-test/devices/me/readings", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true" and again.get_json() == first.get_json()
