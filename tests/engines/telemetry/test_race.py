"""Silence under real concurrency, with real commits (PostgreSQL; SQLite has one writer).

- Two workers mark silence at once (started together, each in its own transaction, several
  rounds): every silent source is marked offline once, its hook runs once and its alert opens
  once, however the two interleave.
- A worker holding its claim uncommitted: the other skips the locked rows (``SKIP LOCKED``),
  marks nothing twice and does not wait.
- Readings arriving while the worker marks: each source ends online (the reading won, or it
  came after the mark and brought the device back, once) — never offline with a fresh reading.
"""
from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from app.clock import FrozenClock
from auth.devices import create_device
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.telemetry import jobs
from scenarios.engines.telemetry import service as svc
from scenarios.engines.telemetry.models import TmAlert, TmSource
from tests.engines.telemetry.scenario import CONFIG, EVENTS, TANKS, Tank
from tests.support.database import backend

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="a real race needs PostgreSQL")
OWNER = "310116-bureau-sports"  # a reference organisation: committed tests add no reference rows


def _world(db, app, clock, n: int) -> list[Principal]:
    stand_in = Flask("telemetry-race")
    stand_in.extensions = app.extensions
    principals = []
    with stand_in.app_context(), db.transaction() as s:
        org = s.scalar(sa.select(Organisation).where(Organisation.code == OWNER))
        TANKS.clear()
        for i in range(1, n + 1):
            TANKS[i] = Tank(i, org.id, 1000.0)
            device, _ = create_device(s, org=org, kind="sensor", name=f"液位计 {i}")
            svc.bind(s, config=CONFIG, kind="level", device_id=device.id, subject_id=i, clock=clock)
            principals.append(Principal("device", org_id=org.id, device_id=device.id, device_uid=device.uid,
                                        device_kind="sensor"))
    EVENTS.clear()
    return principals


def _together(*targets) -> None:
    go = threading.Barrier(len(targets))
    threads = [threading.Thread(target=t, args=(go,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def _counts(db) -> tuple[Counter, Counter]:
    with db.transaction(write=False) as s:
        status = Counter(s.scalars(sa.select(TmSource.status).where(TmSource.scenario == CONFIG.slug)))
        alerts = Counter(s.scalars(sa.select(TmAlert.source_id).where(TmAlert.rule == "silent")))
    return status, alerts


def test_two_workers_mark_each_silence_once(committed_db, _app):
    start = datetime.now(UTC).replace(microsecond=0)
    _world(committed_db, _app, FrozenClock(start), 60)
    marked: list[int] = []
    for round_ in range(6):  # ten more sources fall silent each round
        now = FrozenClock(start + timedelta(minutes=5, seconds=1 + round_))
        with committed_db.transaction() as s:  # keep the others alive until their round
            s.execute(sa.update(TmSource).where(TmSource.scenario == CONFIG.slug, TmSource.status == "online")
                      .values(silent_at=sa.case((TmSource.subject_id <= 10 * (round_ + 1), now.now()),
                                                else_=now.now() + timedelta(hours=1))))

        def worker(go: threading.Barrier, clock=now) -> None:
            go.wait()
            with committed_db.transaction() as s:
                marked.append(jobs.mark_silent(s, clock=clock, limit=7))  # several claims per round
                marked.append(jobs.mark_silent(s, clock=clock, limit=7))

        _together(worker, worker)
        with committed_db.transaction() as s:  # whatever the limits left
            marked.append(jobs.mark_silent(s, clock=now))
    status, alerts = _counts(committed_db)
    assert sum(marked) == 60 and status == Counter({"offline": 60})
    assert set(alerts.values()) == {1} and len(alerts) == 60
    offline = Counter(e[2] for e in EVENTS if e[0] == "offline")
    assert len(offline) == 60 and set(offline.values()) == {1}


def test_a_held_claim_is_skipped_not_waited_for_nor_repeated(committed_db, _app):
    start = datetime.now(UTC).replace(microsecond=0)
    _world(committed_db, _app, FrozenClock(start), 10)
    later = FrozenClock(start + timedelta(minutes=6))
    first = committed_db.new_session()
    try:
        assert jobs.mark_silent(first, clock=later) == 10  # claimed, not committed
        with committed_db.transaction() as s:
            assert jobs.mark_silent(s, clock=later) == 0  # SKIP LOCKED: nothing to take, no wait
        first.commit()
    finally:
        first.close()
    with committed_db.transaction() as s:
        assert jobs.mark_silent(s, clock=later) == 0
    assert _counts(committed_db)[0] == Counter({"offline": 10})
    assert len([e for e in EVENTS if e[0] == "offline"]) == 10


def test_a_reading_racing_the_silence_mark_leaves_the_device_online(committed_db, _app):
    start = datetime.now(UTC).replace(microsecond=0)
    devices = _world(committed_db, _app, FrozenClock(start), 40)
    later = FrozenClock(start + timedelta(minutes=5, seconds=1))

    def worker(go: threading.Barrier) -> None:
        go.wait()
        with committed_db.transaction() as s:
            jobs.mark_silent(s, clock=later)

    def device(i: int):
        def report(go: threading.Barrier) -> None:
            go.wait()
            with committed_db.transaction() as s:
                svc.report(s, clock=later, config=CONFIG, device=devices[i], kind="level", value={"level_l": 5})
        return report

    for i in range(0, 40, 4):  # each round: four sources fall silent as their readings arrive
        with committed_db.transaction() as s:
            s.execute(sa.update(TmSource).where(TmSource.scenario == CONFIG.slug).values(
                silent_at=sa.case((TmSource.subject_id.between(i + 1, i + 4), later.now()),
                                  else_=later.now() + timedelta(days=1))))
        _together(worker, *(device(j) for j in range(i, i + 4)))
    with committed_db.transaction(write=False) as s:
        rows = s.execute(sa.select(TmSource.subject_id, TmSource.status, TmSource.latest_value)
                         .where(TmSource.scenario == CONFIG.slug)).all()
    assert {status for _, status, _ in rows} == {"online"}, rows
    assert all(value == {"level_l": 5.0} for _, _, value in rows)
    went = Counter(e[2] for e in EVENTS if e[0] == "offline")
    back = Counter(e[2] for e in EVENTS if e[0] == "online")
    assert went == back and set(went.values()) <= {1}  # each one marked came back, once
    print(f"marked offline, then back online: {len(went)} of 40; the reading first: {40 - len(went)}")
