"""Races on PostgreSQL with real commits.

- Two drivers accept one job at the same instant, through real HTTP against gunicorn with two
  worker processes: exactly one wins (200), the other hears 409 ``already_taken``; the job, the
  offers and the agents agree with the answers. Ten trials.
- A worker killed (SIGKILL) while it runs offer timeouts: the batch under way vanishes with its
  transaction, and the next worker runs each due round exactly once — every job offered to its
  next nearest drivers, none skipped, none offered twice.

The world stands on the reference places (committed tests must add no reference rows): the
taxi company the drivers belong to is added and removed by the test itself.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.clock import FrozenClock, SystemClock
from app.geo import haversine_m
from app.places.models import Building, Community
from app.timers import Timer
from auth.models import Account, Membership, Person, RefreshToken, Residence
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.dispatch import service as svc
from scenarios.engines.dispatch.models import DispatchAgent, DispatchEvent, DispatchJob, DispatchOffer
from tests.engines.dispatch.scenario import BASE, CONFIG
from tests.support.database import backend
from tests.support.factories import bearer, token_for
from tests.support.gunicorn import serve
from tests.support.worker_processes import start_worker, wait_for

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="needs PostgreSQL (row locks, SKIP LOCKED)")

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


@dataclass
class RaceWorld:
    company_id: int
    residents: list[Principal] = field(default_factory=list)
    origins: list[tuple[float, float]] = field(default_factory=list)
    drivers: list[list[int]] = field(default_factory=list)  # per origin: account ids, nearest first


def _north(north_m: float) -> float:
    """Degrees of latitude of ``north_m`` metres."""
    return north_m / 111_195.0


def build_world(db, *, origins: int, drivers_each: int, spacing_km: float = 7.0) -> RaceWorld:
    """A taxi company; ``origins`` reference communities at least ``spacing_km`` apart, each with a
    resident living there and ``drivers_each`` drivers on duty 100 m, 200 m… north of it."""
    tag = uuid.uuid4().hex[:8]
    with db.transaction() as s:
        company = Organisation(code=f"race-taxi-{tag}", name="竞态出租", type="taxi_company", active=True,
                               attributes={})
        s.add(company)
        s.flush()
        world = RaceWorld(company.id)
        chosen: list[Community] = []
        for community in s.scalars(sa.select(Community).order_by(Community.code)):
            if all(haversine_m(community.lat, community.lon, c.lat, c.lon) > spacing_km * 1000 for c in chosen):
                chosen.append(community)
            if len(chosen) == origins:
                break
        assert len(chosen) == origins, "not enough distant communities in the reference data"
        now = datetime.now(UTC)
        for n, community in enumerate(chosen):
            person = Person(real_name_level="none")
            s.add(person)
            s.flush()
            resident = Account(kind="dev", openid=f"race-{tag}-{n}", person_id=person.id, status="active")
            building = s.scalar(sa.select(Building).where(Building.community_id == community.id).limit(1))
            s.add(resident)
            s.add(Residence(person_id=person.id, community_id=community.id, building_id=building.id, room="101",
                            valid_from=date(2020, 1, 1), status="verified"))
            s.flush()
            world.residents.append(Principal("resident", account_id=resident.id, person_id=person.id))
            world.origins.append((community.lat, community.lon))
            ids = []
            for k in range(drivers_each):
                driver = Account(kind="staff", username=f"race-{tag}-{n}-{k}", password_hash="-", status="active")
                s.add(driver)
                s.flush()
                s.add(Membership(account_id=driver.id, organisation_id=company.id, role="driver", status="active"))
                s.add(DispatchAgent(scenario=CONFIG.slug, account_id=driver.id, org_id=company.id, on_duty=True,
                                    lat=community.lat + _north(100 * (k + 1)), lon=community.lon,
                                    position_at=now, outside_area=False, available_since=now, details={},
                                    updated_at=now))
                ids.append(driver.id)
            world.drivers.append(ids)
    return world


def remove_company(db, world: RaceWorld) -> None:
    """After the committed fixture has emptied the other tables: the one reference row we added."""
    with db.transaction() as s:
        s.execute(sa.delete(DispatchJob).where(
            DispatchJob.requester_account_id.in_([r.account_id for r in world.residents])))
        s.execute(sa.delete(DispatchAgent).where(DispatchAgent.org_id == world.company_id))
        s.execute(sa.delete(Membership).where(Membership.organisation_id == world.company_id))
        s.execute(sa.delete(RefreshToken).where(RefreshToken.organisation_id == world.company_id))
        s.execute(sa.delete(Organisation).where(Organisation.id == world.company_id))


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait(10)


# ---------------------------------------------------------------- two drivers, one job, real HTTP


def _post(url: str, headers: dict[str, str], body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body or {}).encode()
    request = urllib.request.Request(url, data=data, method="POST",  # noqa: S310 (our own server)
                                     headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _accept(url: str, headers: dict[str, str], n: int, start: threading.Barrier, answers: list) -> None:
    start.wait()
    status, body = _post(url, headers)
    answers.append((n, status, body))


@pytest.mark.slow
def test_two_drivers_accepting_one_job_through_gunicorn_one_wins(committed_db, database_url, tmp_path, _app):
    world = build_world(committed_db, origins=1, drivers_each=2)
    try:
        with serve(database_url, tmp_path / "gunicorn.log", app="tests.support.dispatch_wsgi:app", workers=2,
                   threads=1) as base:
            clock = SystemClock()
            with _app.app_context(), committed_db.transaction() as s:  # the app for the keys, not bound to a test
                resident = bearer(token_for(s, clock, s.get(Account, world.residents[0].account_id)))
                company = s.get(Organisation, world.company_id)
                drivers = [bearer(token_for(s, clock, s.get(Account, a), company)) for a in world.drivers[0]]
            outcomes = []
            for trial in range(10):
                status, job = _post(f"{base}{BASE}/jobs", {**resident, "Idempotency-Key": f"race-trial-{trial:04d}"})
                assert status == 201 and job["status"] == "offered", job
                start = threading.Barrier(2)
                answers: list[tuple[int, int, dict]] = []
                accept_url = f"{base}{BASE}/jobs/{job['id']}/accept"
                threads = [threading.Thread(target=_accept, args=(accept_url, drivers[n], n, start, answers))
                           for n in range(2)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(30)
                statuses = sorted((status, body.get("code")) for _, status, body in answers)
                assert statuses == [(200, None), (409, "already_taken")], answers
                winner = next(n for n, status, _ in answers if status == 200)
                with _app.app_context(), committed_db.transaction(write=False) as s:  # the keys: a job's point
                    row = s.get(DispatchJob, job["id"])
                    agent = s.scalar(sa.select(DispatchAgent).where(DispatchAgent.id == row.agent_id))
                    states = sorted(s.scalars(sa.select(DispatchOffer.state).where(DispatchOffer.job_id == job["id"])))
                    busy = s.scalars(sa.select(DispatchAgent.job_id)
                                     .where(DispatchAgent.org_id == world.company_id)).all()
                assert row.status == "accepted" and agent.account_id == world.drivers[0][winner]
                assert states == ["accepted", "withdrawn"]
                assert sorted(busy, key=str) == sorted([job["id"], None], key=str)  # only the winner is busy
                outcomes.append(winner)
                status, body = _post(f"{base}{BASE}/jobs/{job['id']}/cancel", resident, {"reason": "试验结束"})
                assert status == 200, body
            assert len(outcomes) == 10
    finally:
        remove_company(committed_db, world)


# ---------------------------------------------------------------- a worker killed mid-round


def offer_table(db, job_ids: list[int]) -> dict[int, list[tuple[int, int, str]]]:
    """Per job: (driver account, round, state) of its offers, in the order made."""
    with db.transaction(write=False) as s:
        rows = s.execute(sa.select(DispatchOffer.job_id, DispatchAgent.account_id, DispatchOffer.round,
                                   DispatchOffer.state)
                         .join(DispatchAgent, DispatchAgent.id == DispatchOffer.agent_id)
                         .where(DispatchOffer.job_id.in_(job_ids)).order_by(DispatchOffer.id)).all()
    out: dict[int, list[tuple[int, int, str]]] = {j: [] for j in job_ids}
    for job_id, account, rnd, state in rows:
        out[job_id].append((account, rnd, state))
    return out


def rounds_done(db, job_ids: list[int]) -> int:
    with db.transaction(write=False) as s:
        return s.scalar(sa.select(sa.func.count()).select_from(DispatchJob)
                        .where(DispatchJob.id.in_(job_ids), DispatchJob.round >= 2)) or 0


@pytest.mark.slow
def test_a_worker_killed_mid_round_leaves_every_round_to_the_next_once(committed_db, database_url, procs,
                                                                        tmp_path: Path, _app):
    world = build_world(committed_db, origins=8, drivers_each=4)
    try:
        requested = FrozenClock(datetime.now(UTC) - timedelta(seconds=25))  # the offers expired 5 s ago
        job_ids = []
        with _app.app_context(), committed_db.transaction() as s:  # the app for the keys (a job's point)
            for resident in world.residents:
                job_ids.append(svc.request_job(s, clock=requested, principal=resident, config=CONFIG, data={}).id)
            # The offers' notifications are not what this test is about: out of the way.
            s.execute(sa.update(Timer).where(Timer.kind == "notify.deliver").values(state="fired"))
        first = offer_table(committed_db, job_ids)
        for n, job_id in enumerate(job_ids):
            assert first[job_id] == [(world.drivers[n][0], 1, "pending"), (world.drivers[n][1], 1, "pending")]

        doomed = start_worker(procs, database_url, tmp_path, "doomed", "--batch-size", "3",
                              module="tests.support.dispatch_worker_main", TEST_DP_HANDLER_DELAY="0.25")
        wait_for(lambda: rounds_done(committed_db, job_ids) >= 3, "the first batch", procs=[doomed], timeout=30)
        time.sleep(0.3)  # inside the second batch (3 × 0.25 s)
        doomed.kill()
        doomed.wait(10)
        assert rounds_done(committed_db, job_ids) in (3, 6)  # whole batches: the one under way rolled back

        rescuer = start_worker(procs, database_url, tmp_path, "rescuer", "--once",
                               module="tests.support.dispatch_worker_main")
        assert rescuer.wait(60) == 0
        after = offer_table(committed_db, job_ids)
        for n, job_id in enumerate(job_ids):
            d = world.drivers[n]
            assert after[job_id] == [(d[0], 1, "expired"), (d[1], 1, "expired"), (d[2], 2, "pending"),
                                     (d[3], 2, "pending")], (n, after[job_id])
        with committed_db.transaction(write=False) as s:
            rounds = s.execute(sa.select(DispatchEvent.job_id, sa.func.count())
                               .where(DispatchEvent.job_id.in_(job_ids), DispatchEvent.action == "offer")
                               .group_by(DispatchEvent.job_id)).all()
            statuses = set(s.scalars(sa.select(DispatchJob.status).where(DispatchJob.id.in_(job_ids))))
        assert dict(rounds) == {j: 2 for j in job_ids}  # each round once
        assert statuses == {"offered"}
    finally:
        for p in procs:
            p.kill()
        remove_company(committed_db, world)


def test_two_taps_at_once_make_one_job(committed_db, _app):
    """The open-job check and a partial unique index: two requests of one resident racing."""
    from app.errors import ApiError

    world = build_world(committed_db, origins=1, drivers_each=2)
    try:
        outcomes: list[str] = []
        start = threading.Barrier(4)

        def tap() -> None:
            clock = SystemClock()
            start.wait()
            try:
                with _app.app_context(), committed_db.transaction() as s:  # each thread: the keys
                    svc.request_job(s, clock=clock, principal=world.residents[0], config=CONFIG, data={})
                outcomes.append("created")
            except ApiError as err:
                outcomes.append(err.code)

        threads = [threading.Thread(target=tap) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(outcomes) == ["created", "job_active", "job_active", "job_active"]
        with committed_db.transaction(write=False) as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(DispatchJob).where(
                DispatchJob.requester_account_id == world.residents[0].account_id)) == 1
    finally:
        remove_company(committed_db, world)
