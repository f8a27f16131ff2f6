"""Races on PostgreSQL with real commits: workers sweeping while staff acknowledge, and a
worker killed with SIGKILL mid-sweep. Each escalation happens exactly once; an
acknowledgement is recorded either in time or late, never both; nothing deadlocks.

The world is built on the reference places (committed tests must not add reference rows):
a community and the company managing it today, with a manager, and a resident living there.
"""
from __future__ import annotations

import random
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.clock import FrozenClock
from app.notify.models import OutboxMessage
from app.timers import Timer
from app.worker import Worker
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.models import Ticket, TicketEvent
from tests.engines.workflow.scenario import CONFIG
from tests.support.database import backend
from tests.support.worker_processes import start_worker, wait_for
from tests.support.workflow import build_committed as build
from tests.support.workflow import file_tickets

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="needs PostgreSQL (row locks, SKIP LOCKED)")


def outcome(db, ids: list[int]) -> dict[int, dict]:
    with db.transaction(write=False) as s:
        evs = s.execute(sa.select(TicketEvent.ticket_id, TicketEvent.action, TicketEvent.data)
                        .where(TicketEvent.ticket_id.in_(ids))).all()
        sent = s.execute(sa.select(OutboxMessage.event_key).where(OutboxMessage.template == "wf.escalated")).all()
        tickets = {t.id: t for t in s.scalars(sa.select(Ticket).where(Ticket.id.in_(ids)))}
    out = {i: {"escalations": [], "acks": [], "told": 0, "ticket": tickets[i]} for i in ids}
    for tid, action, data in evs:
        if action == "escalate":
            out[tid]["escalations"].append(data["level"])
        elif action == "acknowledge":
            out[tid]["acks"].append(data["late"])
    for (key,) in sent:
        tid = int(key.split(":")[1])
        if tid in out:
            out[tid]["told"] += 1
    return out


def response_timer_states(db, ids: list[int]) -> dict[str, int]:
    with db.transaction(write=False) as s:
        return dict(s.execute(sa.select(Timer.state, sa.func.count()).where(
            Timer.kind == "workflow.response", Timer.level == 1,
            Timer.subject_id.in_([str(i) for i in ids])).group_by(Timer.state)).all())


def sweeper(db, clock, start: threading.Barrier, errors: list[BaseException], *, name: str, batch_size: int,
            passes: int):
    """A thread body: worker ``n`` waits for the others, then runs ``passes`` passes."""
    def sweep(n: int) -> None:
        try:
            worker = Worker(db, clock, worker_id=f"{name}-w{n}", batch_size=batch_size, periodic_jobs={})
            start.wait()
            for _ in range(passes):
                worker.run_once()
        except BaseException as exc:
            errors.append(exc)

    return sweep


def run_all(threads: list[threading.Thread], errors: list[BaseException]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)


def test_concurrent_sweeps_and_acknowledgements(committed_db):
    created = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    world = build(committed_db, on=date(2026, 11, 2))
    ids = file_tickets(committed_db, world, 60, created)
    clock = FrozenClock(created + timedelta(minutes=30))  # exactly the response target: level 1 is due
    errors: list[BaseException] = []
    start = threading.Barrier(7)

    sweep = sweeper(committed_db, clock, start, errors, name="race", batch_size=3, passes=40)

    def acknowledge(order: list[int]) -> None:
        try:
            start.wait()
            for tid in order:
                with committed_db.transaction() as s:
                    svc.acknowledge(s, clock=clock, principal=world.manager, config=CONFIG, ticket_id=tid)
        except BaseException as exc:
            errors.append(exc)

    rng = random.Random(5)
    halves = [ids[0::3], ids[1::3], ids[2::3]]
    for h in halves:
        rng.shuffle(h)
    threads = [threading.Thread(target=sweep, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=acknowledge, args=(h,)) for h in halves]
    run_all(threads, errors)
    Worker(committed_db, clock, worker_id="race-final", periodic_jobs={}).run_once()

    results = outcome(committed_db, ids)
    in_time = late = 0
    for tid, r in results.items():
        assert len(r["acks"]) == 1, (tid, r)
        assert r["escalations"] in ([], [1]), (tid, r)
        was_late = r["acks"][0]
        # Never both: escalated ⇔ recorded late (the ack came exactly at the deadline).
        assert was_late == (r["escalations"] == [1]), (tid, r)
        assert r["told"] == len(r["escalations"])  # one notification per escalation (one manager)
        assert r["ticket"].response_breached == was_late
        in_time += not was_late
        late += was_late
    assert in_time + late == 60
    assert response_timer_states(committed_db, ids).get("pending", 0) == 0


@pytest.fixture
def wf_procs() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait(10)


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_escalates_each_ticket_exactly_once(committed_db, database_url, wf_procs,
                                                                      tmp_path: Path):
    now = datetime.now(UTC)
    world = build(committed_db, on=now.date())
    ids = file_tickets(committed_db, world, 30, now - timedelta(minutes=31))  # level 1 due a minute ago

    def escalated() -> int:
        return sum(len(r["escalations"]) for r in outcome(committed_db, ids).values())

    doomed = start_worker(wf_procs, database_url, tmp_path, "doomed", "--batch-size", "10",
                          module="tests.support.workflow_worker_main", TEST_WF_HANDLER_DELAY="0.1")
    wait_for(lambda: escalated() >= 10, "the first batch", procs=[doomed], timeout=30)
    time.sleep(0.35)  # inside the second batch (10 × 0.1 s)
    doomed.kill()
    doomed.wait(10)
    done = escalated()
    assert done in (10, 20)  # whole batches: the one under way vanished with its transaction
    assert response_timer_states(committed_db, ids).get("fired", 0) == done

    rescuer = start_worker(wf_procs, database_url, tmp_path, "rescuer", "--once",
                           module="tests.support.workflow_worker_main")
    assert rescuer.wait(60) == 0
    results = outcome(committed_db, ids)
    assert all(r["escalations"] == [1] for r in results.values()), results
    assert all(r["told"] == 1 for r in results.values())
    assert all(r["ticket"].escalation_level == 1 for r in results.values())
    assert response_timer_states(committed_db, ids) == {"fired": 30}


def test_concurrent_workers_escalate_both_levels_of_shared_tickets_once_each_in_order(committed_db, caplog):
    """The worker is behind: both levels of every ticket are due, so batches of different
    workers share tickets (level 1 in one, level 2 in another). The batches' updates wait for
    one another (row locks in id order: no deadlock, no batch falls back to one by one) and
    each level happens exactly once, level 1 first."""
    created = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    world = build(committed_db, on=date(2026, 11, 2))
    ids = file_tickets(committed_db, world, 40, created)
    clock = FrozenClock(created + timedelta(minutes=61))
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    sweep = sweeper(committed_db, clock, start, errors, name="behind", batch_size=7, passes=20)

    caplog.set_level("WARNING", logger="app.worker")
    run_all([threading.Thread(target=sweep, args=(i,)) for i in range(4)], errors)
    assert not [r for r in caplog.records if r.name == "app.worker"], [r.getMessage() for r in caplog.records]

    results = outcome(committed_db, ids)
    assert all(r["ticket"].escalation_level == 2 and r["ticket"].response_breached for r in results.values())
    with committed_db.transaction(write=False) as s:
        levels: dict[int, list[int]] = {i: [] for i in ids}
        for tid, data in s.execute(sa.select(TicketEvent.ticket_id, TicketEvent.data).where(
                TicketEvent.ticket_id.in_(ids), TicketEvent.action == "escalate").order_by(TicketEvent.id)):
            levels[tid].append(data["level"])
        keys = s.execute(sa.select(OutboxMessage.event_key, sa.func.count()).where(
            OutboxMessage.template == "wf.escalated",
            OutboxMessage.event_key.in_([f"wf:{i}:esc:0:{level}" for i in ids for level in (1, 2)]))
            .group_by(OutboxMessage.event_key)).all()
        failed = s.scalar(sa.select(sa.func.count()).select_from(Timer).where(
            Timer.kind == "workflow.response", Timer.subject_id.in_([str(i) for i in ids]), Timer.attempts > 0))
    assert levels == {i: [1, 2] for i in ids}  # each level once, level 1 first
    assert len(keys) == 80  # each level's notification enqueued, once (the unique key)
    assert failed == 0
