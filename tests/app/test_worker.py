"""The worker: firing, retries, the SQLite lease, periodic jobs, health, and real processes."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.idempotency import IdempotencyRecord
from app.periodic import PERIODIC_JOBS, PeriodicJob
from app.timers import Timer, batch_handler, cancel, schedule, timer_handler
from app.worker import LEASE_NAME, Worker, WorkerLease
from tests.support.database import backend
from tests.support.timer_handlers import CREATE_HITS, DROP_HITS, HITS_TABLE
from tests.support.worker_processes import start_worker, wait_for

CALLS: list[tuple[str, str]] = []

pg_only = pytest.mark.skipif(backend() != "postgresql", reason="needs PostgreSQL (FOR UPDATE SKIP LOCKED)")
sqlite_only = pytest.mark.skipif(backend() != "sqlite", reason="the lease is how SQLite keeps to one worker")


# ------------------------------------------------------------------ in-process handlers

def _effect(session, timer, clock) -> None:
    """A visible database effect of a handler: a far-away timer of its own."""
    schedule(session, subject_type="effect", subject_id=f"{timer.kind}:{timer.subject_id}", kind="done",
             due_at=clock.now() + timedelta(days=365))


@timer_handler("test.ok")
def ok_handler(session, timer, clock):
    CALLS.append(("ok", timer.subject_id))
    _effect(session, timer, clock)


@timer_handler("test.fail", max_attempts=3)
def failing_handler(session, timer, clock):
    CALLS.append(("fail", timer.subject_id))
    _effect(session, timer, clock)  # rolled back with the handler's savepoint
    raise RuntimeError("could not reach 13812345678")  # the message must not reach last_error


@timer_handler("test.rearm")
def rearming_handler(session, timer, clock):
    CALLS.append(("rearm", timer.subject_id))
    schedule(session, subject_type=timer.subject_type, subject_id=timer.subject_id, kind=timer.kind,
             due_at=clock.now() + timedelta(minutes=5))


@timer_handler("test.rearm_then_fail")
def rearm_then_fail(session, timer, clock):
    rearming_handler(session, timer, clock)
    raise LookupError("after re-arming")


@timer_handler("test.cancel_ok")
def cancelling_handler(session, timer, clock):
    cancel(session, subject_type=timer.subject_type, subject_id=timer.subject_id, kind="test.ok")


@timer_handler("test.batched", max_attempts=3)
def batched_one(session, timer, clock):
    """The single handler of a kind that also has a batch handler: the worker's fallback."""
    CALLS.append(("one", timer.subject_id))
    _effect(session, timer, clock)
    if timer.subject_id.startswith("bad"):
        raise RuntimeError("bad subject")
    if timer.subject_id.startswith("rearm"):
        schedule(session, subject_type=timer.subject_type, subject_id=timer.subject_id, kind=timer.kind,
                 due_at=clock.now() + timedelta(minutes=5))


@batch_handler("test.batched")
def batched_many(session, timers, clock):
    CALLS.append(("batch", ",".join(t.subject_id for t in timers)))
    for timer in timers:  # the good ones' effects first: rolled back with the batch's savepoint
        _effect(session, timer, clock)
        if timer.subject_id.startswith("rearm"):
            schedule(session, subject_type=timer.subject_type, subject_id=timer.subject_id, kind=timer.kind,
                     due_at=clock.now() + timedelta(minutes=5))
    if any(t.subject_id.startswith("bad") for t in timers):
        raise RuntimeError("bad subject in the batch")


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()


def add(session, clock, kind: str, subject_id: str, *, seconds: float = 0, level: int = 0) -> Timer:
    return schedule(session, subject_type="test", subject_id=subject_id, kind=kind, level=level,
                    due_at=clock.now() + timedelta(seconds=seconds))


def effects(session) -> set[str]:
    return set(session.scalars(sa.select(Timer.subject_id).where(Timer.subject_type == "effect")))


def reload(session, timer: Timer) -> Timer:
    session.expire_all()
    return session.get(Timer, timer.id)


def make_worker(db, clock, **kw) -> Worker:
    kw.setdefault("periodic_jobs", {})
    kw.setdefault("batch_size", 10)
    return Worker(db, clock, **kw)


# ------------------------------------------------------------------ firing

def test_run_once_fires_due_timers_only(db, session, clock):
    early = add(session, clock, "test.ok", "early", seconds=-5)
    now = add(session, clock, "test.ok", "now")
    later = add(session, clock, "test.ok", "later", seconds=60)
    session.commit()
    worker = make_worker(db, clock)

    assert worker.run_once() == 2
    assert CALLS == [("ok", "early"), ("ok", "now")]  # soonest first
    for t in (early, now):
        t = reload(session, t)
        assert (t.state, t.fired_at, t.attempts) == ("fired", clock.now(), 0)
    assert reload(session, later).state == "pending"
    assert effects(session) == {"test.ok:early", "test.ok:now"}

    assert worker.run_once() == 0
    clock.advance(seconds=60)
    assert worker.run_once() == 1
    assert reload(session, later).state == "fired"


def test_a_pass_loops_while_batches_are_full(db, session, clock):
    for i in range(7):
        add(session, clock, "test.ok", f"t{i}", seconds=-i)
    session.commit()
    assert make_worker(db, clock, batch_size=3).run_once() == 7
    assert [c[1] for c in CALLS] == [f"t{i}" for i in reversed(range(7))]
    assert session.scalar(sa.select(sa.func.count()).where(Timer.state == "fired")) == 7


def test_failing_handler_retries_with_backoff_then_fails_alone(db, session, clock):
    add(session, clock, "test.ok", "a", seconds=-3)
    bad = add(session, clock, "test.fail", "bad", seconds=-2)
    add(session, clock, "test.ok", "b", seconds=-1)
    session.commit()
    worker = make_worker(db, clock, backoff_base=timedelta(seconds=10))

    assert worker.run_once() == 3
    t = reload(session, bad)
    assert (t.state, t.attempts, t.due_at) == ("pending", 1, clock.now() + timedelta(seconds=10))
    assert t.last_error.startswith("RuntimeError at tests/app/test_worker.py:")
    assert "138" not in t.last_error
    assert effects(session) == {"test.ok:a", "test.ok:b"}  # the failed handler's effect rolled back
    assert session.scalar(sa.select(sa.func.count()).where(Timer.state == "fired")) == 2

    clock.advance(seconds=9)
    assert worker.run_once() == 0  # not before its backoff
    clock.advance(seconds=1)
    assert worker.run_once() == 1
    t = reload(session, bad)
    assert (t.state, t.attempts, t.due_at) == ("pending", 2, clock.now() + timedelta(seconds=20))  # doubled

    clock.advance(seconds=20)
    assert worker.run_once() == 1
    t = reload(session, bad)
    assert (t.state, t.attempts) == ("failed", 3)  # the handler's max_attempts
    clock.advance(hours=2)
    assert worker.run_once() == 0
    assert [c for c in CALLS if c[0] == "fail"] == [("fail", "bad")] * 3
    assert "test.fail:bad" not in effects(session)


def test_unknown_kind_is_a_failed_timer_not_a_crash(db, session, clock):
    stray = add(session, clock, "nobody.handles.this", "x", seconds=-2)
    add(session, clock, "test.ok", "y", seconds=-1)
    session.commit()
    assert make_worker(db, clock).run_once() == 2
    t = reload(session, stray)
    assert (t.state, t.attempts) == ("failed", 1)
    assert t.last_error == "no handler registered for kind 'nobody.handles.this'"
    assert effects(session) == {"test.ok:y"}


def test_a_handler_may_rearm_its_own_timer(db, session, clock):
    t = add(session, clock, "test.rearm", "r")
    session.commit()
    worker = make_worker(db, clock)
    assert worker.run_once() == 1
    t = reload(session, t)
    assert (t.state, t.due_at, t.fired_at) == ("pending", clock.now() + timedelta(minutes=5), None)
    clock.advance(minutes=5)
    assert worker.run_once() == 1
    assert CALLS == [("rearm", "r"), ("rearm", "r")]


def test_a_failing_handler_that_rearmed_its_timer_is_retried_not_rearmed(db, session, clock):
    t = add(session, clock, "test.rearm_then_fail", "rf")
    session.commit()
    make_worker(db, clock, backoff_base=timedelta(seconds=10)).run_once()
    t = reload(session, t)
    assert (t.state, t.attempts, t.due_at) == ("pending", 1, clock.now() + timedelta(seconds=10))
    assert t.last_error.startswith("LookupError at tests/app/test_worker.py:")


def test_a_timer_cancelled_by_an_earlier_handler_of_the_batch_does_not_fire(db, session, clock):
    add(session, clock, "test.cancel_ok", "s", seconds=-2)
    victim = add(session, clock, "test.ok", "s", seconds=-1)
    session.commit()
    make_worker(db, clock).run_once()
    assert reload(session, victim).state == "cancelled"
    assert CALLS == []


def test_a_batch_handler_gets_its_kinds_timers_at_the_place_of_the_first(db, session, clock):
    add(session, clock, "test.ok", "first", seconds=-4)
    add(session, clock, "test.batched", "b1", seconds=-3)
    add(session, clock, "test.ok", "middle", seconds=-2)
    add(session, clock, "test.batched", "b2", seconds=-1)
    add(session, clock, "test.batched", "later", seconds=60)
    session.commit()
    assert make_worker(db, clock).run_once() == 4
    assert CALLS == [("ok", "first"), ("batch", "b1,b2"), ("ok", "middle")]  # one call, soonest first
    assert effects(session) == {"test.ok:first", "test.ok:middle", "test.batched:b1", "test.batched:b2"}
    fired = set(session.scalars(sa.select(Timer.subject_id).where(Timer.kind == "test.batched",
                                                                  Timer.state == "fired")))
    assert fired == {"b1", "b2"}


def test_a_failing_batch_falls_back_to_one_savepoint_per_timer(db, session, clock):
    """One bad timer fails alone: the batch's savepoint is rolled back, then each timer runs
    through the single handler; the good ones fire in this pass, the bad one is retried."""
    good1 = add(session, clock, "test.batched", "g1", seconds=-3)
    bad = add(session, clock, "test.batched", "bad", seconds=-2)
    good2 = add(session, clock, "test.batched", "g2", seconds=-1)
    session.commit()
    worker = make_worker(db, clock, backoff_base=timedelta(seconds=10))
    assert worker.run_once() == 3
    assert CALLS == [("batch", "g1,bad,g2"), ("one", "g1"), ("one", "bad"), ("one", "g2")]
    assert effects(session) == {"test.batched:g1", "test.batched:g2"}  # not the bad one's, nor twice
    for t in (good1, good2):
        t = reload(session, t)
        assert (t.state, t.attempts, t.last_error) == ("fired", 0, None)
    t = reload(session, bad)
    assert (t.state, t.attempts, t.due_at) == ("pending", 1, clock.now() + timedelta(seconds=10))
    assert t.last_error.startswith("RuntimeError at tests/app/test_worker.py:")

    CALLS.clear()
    clock.advance(seconds=10)
    assert worker.run_once() == 1
    assert CALLS == [("batch", "bad"), ("one", "bad")]  # retried: the batch first, then alone
    assert (reload(session, bad).state, reload(session, bad).attempts) == ("pending", 2)
    clock.advance(seconds=20)
    worker.run_once()
    assert (reload(session, bad).state, reload(session, bad).attempts) == ("failed", 3)  # the kind's max_attempts


def test_a_batch_handler_may_rearm_some_of_its_timers(db, session, clock):
    rearmed = add(session, clock, "test.batched", "rearm-1", seconds=-2)
    plain = add(session, clock, "test.batched", "p", seconds=-1)
    session.commit()
    assert make_worker(db, clock).run_once() == 2
    t = reload(session, rearmed)
    assert (t.state, t.due_at, t.fired_at) == ("pending", clock.now() + timedelta(minutes=5), None)
    assert reload(session, plain).state == "fired"


def test_a_batch_gets_no_timer_an_earlier_handler_cancelled(db, session, clock):
    add(session, clock, "test.cancel_batched", "s", seconds=-3)
    victim = add(session, clock, "test.batched", "s", seconds=-2)
    other = add(session, clock, "test.batched", "o", seconds=-1)
    session.commit()
    make_worker(db, clock).run_once()
    assert reload(session, victim).state == "cancelled"
    assert reload(session, other).state == "fired"
    assert CALLS == [("batch", "o")]


@timer_handler("test.cancel_batched")
def cancelling_batched(session, timer, clock):
    cancel(session, subject_type=timer.subject_type, subject_id=timer.subject_id, kind="test.batched")


def test_a_batch_handler_needs_the_kinds_single_handler_first():
    with pytest.raises(ValueError, match="single handler"):
        batch_handler("test.no_single")(batched_many)


def test_ticks_at_least_once_a_second(db, clock):
    with pytest.raises(ValueError, match="once a second"):
        Worker(db, clock, tick_seconds=2)


@pg_only
def test_postgresql_workers_need_no_lease(db, session, clock):
    add(session, clock, "test.ok", "a")
    session.commit()
    w1, w2 = make_worker(db, clock, worker_id="w1"), make_worker(db, clock, worker_id="w2")
    assert not w1.uses_lease
    assert w2.run_once() == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(WorkerLease)) == 0


@pg_only
def test_claim_query_reads_the_partial_index(db, session, clock):
    stmt = (sa.select(Timer).where(Timer.state == sa.literal_column("'pending'"), Timer.due_at <= clock.now())
            .order_by(Timer.due_at).limit(100).with_for_update(skip_locked=True))
    sql = str(stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}))
    session.execute(sa.text("SET LOCAL enable_seqscan = off"))  # a tiny table would be scanned anyway
    plan = "\n".join(session.scalars(sa.text("EXPLAIN " + sql)))
    assert "ix_timers_due_pending" in plan


# ------------------------------------------------------------------ the SQLite lease, in process

@sqlite_only
def test_sqlite_lease_keeps_one_worker_until_it_expires_or_is_released(db, session, clock):
    w1 = make_worker(db, clock, worker_id="w1", lease_seconds=10)
    w2 = make_worker(db, clock, worker_id="w2", lease_seconds=10)
    add(session, clock, "test.ok", "1")
    session.commit()
    assert w1.run_once() == 1 and w1.holds_lease
    lease = session.get(WorkerLease, LEASE_NAME)
    assert (lease.holder, lease.expires_at) == ("w1", clock.now() + timedelta(seconds=10))

    add(session, clock, "test.ok", "2")
    session.commit()
    assert w2.run_once() == 0 and not w2.holds_lease  # stands by
    assert CALLS == [("ok", "1")]

    clock.advance(seconds=10)  # w1 went silent: its lease expires
    assert w2.run_once() == 1 and w2.holds_lease
    assert w1.run_once() == 0 and not w1.holds_lease

    add(session, clock, "test.ok", "3")
    session.commit()
    w2.release_lease()  # a clean stop hands over at once
    assert w1.run_once() == 1
    assert [c[1] for c in CALLS] == ["1", "2", "3"]


# ------------------------------------------------------------------ periodic jobs

def test_periodic_job_runs_at_most_once_per_interval_across_workers(db, clock):
    runs: list[str] = []
    jobs = {"test.job": PeriodicJob("test.job", timedelta(minutes=5), lambda s, c: runs.append("x"))}
    kw = {"periodic_jobs": jobs, "lease_seconds": 600}
    w1, w2 = Worker(db, clock, worker_id="w1", **kw), Worker(db, clock, worker_id="w2", **kw)
    # On SQLite each hands the lease over, so the job row, not the lease, is what stops a rerun.
    w1.run_once()
    w1.release_lease()
    w2.run_once()
    w2.release_lease()
    w1.run_once()
    w1.release_lease()
    assert runs == ["x"]
    clock.advance(minutes=5)
    w2.run_once()
    w2.release_lease()
    w1.run_once()
    assert runs == ["x", "x"]


def test_housekeeping_purges_expired_idempotency_keys_and_old_timers(db, session, clock):
    now = clock.now()
    for key, expires in (("expired-key-1", now - timedelta(seconds=1)), ("live-key-123", now + timedelta(hours=1))):
        session.add(IdempotencyRecord(scope="ip:test", key=key, request_hash="0" * 64, state="done",
                                      created_at=now - timedelta(hours=24), expires_at=expires))
    old = now - timedelta(days=8)
    rows = {"old-fired": ("fired", old), "new-fired": ("fired", now - timedelta(days=1)),
            "old-cancelled": ("cancelled", old), "old-failed": ("failed", old), "old-pending": ("pending", old)}
    for sid, (state, when) in rows.items():
        session.add(Timer(subject_type="hk", subject_id=sid, kind="k", due_at=when, state=state,
                          fired_at=when if state == "fired" else None))
    session.commit()
    assert {"purge_idempotency_keys", "purge_old_timers"} <= set(PERIODIC_JOBS)

    Worker(db, clock, periodic_jobs={k: PERIODIC_JOBS[k] for k in ("purge_idempotency_keys", "purge_old_timers")}
           ).run_once()
    session.expire_all()
    assert set(session.scalars(sa.select(IdempotencyRecord.key))) == {"live-key-123"}
    kept = set(session.scalars(sa.select(Timer.subject_id).where(Timer.subject_type == "hk")))
    assert kept == {"new-fired", "old-failed", "old-pending"}


# ------------------------------------------------------------------ worker health

HEALTH = "/api/v1/admin/worker-health"


@pytest.fixture
def admin_headers(app, session, clock):
    from tests.support.factories import bearer, make_org, make_staff, token_for

    with app.app_context():
        district = make_org(session, "district")
        return bearer(token_for(session, clock, make_staff(session, district, "admin"), district))


def test_worker_health_numbers(client, session, clock, admin_headers):
    assert client.get(HEALTH, headers=admin_headers).get_json() == {
        "oldest_overdue_seconds": 0.0, "pending_due": 0, "pending_total": 0, "failed_total": 0, "lease": None}
    now = clock.now()
    for sid, state, seconds in (("a", "pending", -90), ("b", "pending", -30), ("c", "pending", 60),
                                ("d", "failed", -500), ("e", "fired", -900), ("f", "cancelled", -900)):
        session.add(Timer(subject_type="h", subject_id=sid, kind="k", state=state,
                          due_at=now + timedelta(seconds=seconds)))
    session.add(WorkerLease(name=LEASE_NAME, holder="host:1:abc", expires_at=now + timedelta(seconds=15)))
    session.commit()

    body = client.get(HEALTH, headers=admin_headers).get_json()
    assert body == {"oldest_overdue_seconds": 90.0, "pending_due": 2, "pending_total": 3, "failed_total": 1,
                    "lease": {"holder": "host:1:abc", "expires_at": "2026-11-02T09:00:15+08:00"}}
    clock.advance(seconds=61)
    body = client.get(HEALTH, headers=admin_headers).get_json()
    assert (body["oldest_overdue_seconds"], body["pending_due"]) == (151.0, 3)


def test_worker_health_is_for_district_admins(app, client, session, clock):
    from tests.support.factories import bearer, make_org, make_staff, token_for

    assert client.get(HEALTH).status_code == 401
    with app.app_context():
        town = make_org(session, "town")
        town_admin = bearer(token_for(session, clock, make_staff(session, town, "admin"), town))
        district = make_org(session, "district")
        district_staff = bearer(token_for(session, clock, make_staff(session, district, "staff"), district))
    assert client.get(HEALTH, headers=town_admin).get_json()["code"] == "forbidden"
    assert client.get(HEALTH, headers=district_staff).status_code == 403


# ------------------------------------------------------------------ real processes

@pytest.fixture
def hits(committed_db) -> Iterator[None]:
    with committed_db.engine.begin() as conn:
        conn.exec_driver_sql(DROP_HITS)
        conn.exec_driver_sql(CREATE_HITS)
    yield
    with committed_db.engine.begin() as conn:
        conn.exec_driver_sql(DROP_HITS)


@pytest.fixture
def procs(hits) -> Iterator[list[subprocess.Popen]]:
    """Worker processes a test started; killed (by pid) if still running at its end."""
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait(10)


def add_due(db, n: int, *, kind: str = "test.hit", prefix: str = "t") -> list[int]:
    due = datetime.now(UTC) - timedelta(seconds=1)
    with db.transaction() as s:
        s.execute(sa.insert(Timer), [
            {"subject_type": "proc", "subject_id": f"{prefix}{i}", "kind": kind, "level": 0, "due_at": due,
             "state": "pending", "attempts": 0, "created_at": due} for i in range(n)])
        return list(s.scalars(sa.select(Timer.id).where(Timer.subject_id.like(f"{prefix}%"))))


def hit_rows(db) -> list[tuple[int, int]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(f"SELECT timer_id, pid FROM {HITS_TABLE}")]


def states(db) -> dict[str, int]:
    with db.transaction(write=False) as s:
        return dict(s.execute(sa.select(Timer.state, sa.func.count()).group_by(Timer.state)).all())


def stop(p: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    p.send_signal(sig)
    return p.wait(timeout)


@pytest.mark.slow
@pg_only
def test_two_worker_processes_fire_each_of_1000_timers_exactly_once(committed_db, database_url, procs, tmp_path):
    workers = [start_worker(procs, database_url, tmp_path, f"w{i}", "--batch-size", "25",
                            TEST_HANDLER_DELAY="0.002") for i in (1, 2)]
    wait_for(lambda: all((tmp_path / f"w{i}.ready").exists() for i in (1, 2)), "both workers", procs=workers)
    ids = add_due(committed_db, 1000)
    wait_for(lambda: len(hit_rows(committed_db)) >= 1000, "1000 hits", procs=workers)
    time.sleep(0.2)  # a double fire would show up here
    assert [stop(p) for p in workers] == [0, 0]

    rows = hit_rows(committed_db)
    assert len(rows) == 1000
    assert sorted(r[0] for r in rows) == sorted(ids)  # each timer once
    assert {r[1] for r in rows} == {p.pid for p in workers}  # both took part
    assert states(committed_db) == {"fired": 1000}


@pytest.mark.slow
@pg_only
def test_a_worker_killed_between_a_batchs_writes_and_its_commit_loses_nothing_and_fires_nothing_twice(
        committed_db, database_url, procs, tmp_path):
    """SIGKILL exactly where it hurts: the second batch has run all ten handlers (their hits
    inserted) and marked its timers fired, and stops at its commit. Nothing of it may stand,
    and a second worker fires those ten, each once."""
    ids = add_due(committed_db, 30)
    paused = tmp_path / "paused"
    first = start_worker(procs, database_url, tmp_path, "doomed", "--batch-size", "10",
                         TEST_PAUSE_AFTER_HIT="20", TEST_PAUSE_FILE=str(paused))
    wait_for(lambda: paused.exists() and paused.read_text(), "the second batch at its commit", procs=[first])
    # Its writes are made but not committed: its timers are locked, its hits invisible.
    with committed_db.transaction() as s, pytest.raises(sa.exc.OperationalError, match="could not obtain lock"):
        s.execute(sa.select(Timer.id).where(Timer.id == int(paused.read_text())).with_for_update(nowait=True)).all()
    assert len(hit_rows(committed_db)) == 10 and states(committed_db) == {"fired": 10, "pending": 20}
    first.kill()
    first.wait(10)
    assert len(hit_rows(committed_db)) == 10  # the killed batch vanished whole
    assert states(committed_db) == {"fired": 10, "pending": 20}

    second = start_worker(procs, database_url, tmp_path, "rescuer", "--once")
    assert second.wait(30) == 0
    rows = hit_rows(committed_db)
    assert sorted(r[0] for r in rows) == sorted(ids)  # each timer once: none lost, none twice
    assert {r[1] for r in rows} == {first.pid, second.pid}
    assert states(committed_db) == {"fired": 30}


@pytest.mark.slow
def test_sigterm_finishes_the_batch_then_exits_0(committed_db, database_url, procs, tmp_path):
    add_due(committed_db, 25)
    marker = tmp_path / "started"
    p = start_worker(procs, database_url, tmp_path, "w", "--batch-size", "10",
                     TEST_HANDLER_DELAY="0.15", TEST_HANDLER_MARKER=str(marker))
    wait_for(marker.exists, "the first handler", procs=[p])
    assert stop(p) == 0
    assert len(hit_rows(committed_db)) == 10  # the batch under way finished and committed
    assert states(committed_db) == {"fired": 10, "pending": 15}  # and no new one began
    assert '"worker stopped"' in (tmp_path / "w.log").read_text()


@pytest.mark.slow
def test_flask_worker_once_runs_one_pass(committed_db, database_url, procs, tmp_path):
    add_due(committed_db, 12, kind="nobody.handles.this")
    later = datetime.now(UTC) + timedelta(hours=1)
    now = datetime.now(UTC)
    with committed_db.transaction() as s:
        schedule(s, subject_type="proc", subject_id="later", kind="test.hit", due_at=later)
        for key, expires in (("expired-key-1", now - timedelta(minutes=1)), ("live-key-123", later)):
            s.add(IdempotencyRecord(scope="ip:test", key=key, request_hash="0" * 64, state="done",
                                    created_at=now - timedelta(days=1), expires_at=expires))
    p = start_worker(procs, database_url, tmp_path, "cli", "--app", "wsgi", "worker", "--once", "--batch-size", "5",
                     module="flask")
    assert p.wait(30) == 0
    assert "handled 12 timer(s)" in (tmp_path / "cli.log").read_text()
    assert states(committed_db) == {"failed": 12, "pending": 1}  # unknown kind here: failed, not a crash
    with committed_db.transaction(write=False) as s:
        assert set(s.scalars(sa.select(IdempotencyRecord.key))) == {"live-key-123"}  # housekeeping ran
        assert s.scalar(sa.select(sa.func.count()).select_from(WorkerLease).where(
            WorkerLease.expires_at > datetime.now(UTC))) == 0  # released on exit


@pytest.mark.slow
@sqlite_only
def test_sqlite_second_worker_stands_by_then_takes_over(committed_db, database_url, procs, tmp_path):
    def holder() -> str | None:
        with committed_db.transaction(write=False) as s:
            lease = s.get(WorkerLease, LEASE_NAME)
            return lease.holder if lease and lease.expires_at > datetime.now(UTC) else None

    def fired_by(prefix: str, n: int = 1) -> set[int]:
        ids = add_due(committed_db, n, prefix=prefix)
        wait_for(lambda: set(ids) <= {r[0] for r in hit_rows(committed_db)}, f"{prefix} fired")
        return {pid for tid, pid in hit_rows(committed_db) if tid in ids}

    lease = ["--lease-seconds", "2", "--tick", "0.05"]
    a = start_worker(procs, database_url, tmp_path, "A", *lease)
    wait_for(lambda: holder() == "A", "A holds the lease", procs=[a])
    standby = {n: start_worker(procs, database_url, tmp_path, n, *lease) for n in ("B", "C")}
    for n in standby:
        wait_for(lambda n=n: "standing by" in (tmp_path / f"{n}.log").read_text(), f"{n} standing by",
                 procs=[standby[n]])
    assert fired_by("one", 3) == {a.pid}

    a.kill()  # no release: the others wait for the lease to expire
    a.wait(10)
    with committed_db.transaction(write=False) as s:
        a_expires = s.get(WorkerLease, LEASE_NAME).expires_at  # A's last renewal: no more now
    new = wait_for(lambda: (h := holder()) in standby and h, "a new holder")
    assert datetime.now(UTC) >= a_expires  # not before A's lease ran out (whenever A last renewed it)
    assert fired_by("two", 3) == {standby[new].pid}

    other = next(n for n in standby if n != new)
    assert stop(standby[new]) == 0
    assert holder() != new  # a clean stop released the lease (it would still be valid otherwise)
    wait_for(lambda: holder() == other, f"{other} takes over")
    assert fired_by("three", 3) == {standby[other].pid}
    assert stop(standby[other]) == 0


def test_the_worker_process_knows_every_handler():
    """The worker imports only wsgi: every handler module must register through create_app."""
    import subprocess

    code = ("import wsgi; from app.timers import HANDLERS; from app.periodic import PERIODIC_JOBS; "
            "print(' '.join(sorted(HANDLERS))); print(' '.join(sorted(PERIODIC_JOBS)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite://", "LOG_LEVEL": "WARNING"})
    handlers, jobs = (line.split() for line in out.stdout.splitlines()[:2])
    assert "notify.deliver" in handlers
    assert {"purge_idempotency_keys", "purge_old_timers"} <= set(jobs)
