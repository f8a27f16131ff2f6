"""Races on PostgreSQL with real commits: workers sweeping while staff acknowledge, and a
worker killed with SIGKILL between a batch's writes and its commit. Each escalation happens exactly once; an
acknowledgement is recorded either in time or late, never both; nothing deadlocks.

The world is built on the reference places (committed tests must not add reference rows):
a community and the company managing it today, with a manager, and a resident living there.
"""
from __future__ import annotations

import json
import random
import subprocess
import threading
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

    # The sweepers claim the (equally due) timers roughly in id order; the acknowledgements go
    # from the other end, shuffled a little, so they meet in the middle: some tickets are
    # acknowledged before their sweep, some after, and those in between are truly contested.
    rng = random.Random(5)
    halves = [sorted(ids[k::3], reverse=True) for k in range(3)]
    for h in halves:
        for i in range(0, len(h) - 1, 2):
            if rng.random() < 0.5:
                h[i], h[i + 1] = h[i + 1], h[i]
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
    # Both sides of the race happened: otherwise it only proved one order, not the race.
    assert in_time > 0 and late > 0, (in_time, late)
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
def test_a_worker_killed_between_a_batchs_writes_and_its_commit_escalates_each_ticket_exactly_once(
        committed_db, database_url, wf_procs, tmp_path: Path):
    """The worker's second batch has written everything (tickets, events, outbox rows, the
    timers' fired marks: its rows are locked) and is about to commit when it is SIGKILLed. None
    of it may stand; a second worker then escalates those tickets, and every ticket exactly once."""
    now = datetime.now(UTC)
    world = build(committed_db, on=now.date())
    ids = file_tickets(committed_db, world, 30, now - timedelta(minutes=31))  # level 1 due a minute ago

    def escalated() -> int:
        return sum(len(r["escalations"]) for r in outcome(committed_db, ids).values())

    paused = tmp_path / "paused.json"
    doomed = start_worker(wf_procs, database_url, tmp_path, "doomed", "--batch-size", "10",
                          module="tests.support.workflow_worker_main",
                          TEST_WF_PAUSE_BEFORE_COMMIT="2", TEST_WF_PAUSE_FILE=str(paused))
    wait_for(lambda: paused.exists() and paused.read_text(), "the second batch at its commit", procs=[doomed],
             timeout=60)
    in_flight = json.loads(paused.read_text())
    assert len(in_flight) == 10 and set(in_flight) <= set(ids)
    # The batch's writes are there, uncommitted: its tickets are locked by its transaction...
    with committed_db.transaction() as s, pytest.raises(sa.exc.OperationalError, match="could not obtain lock"):
        s.execute(sa.select(Ticket.id).where(Ticket.id.in_(in_flight)).with_for_update(nowait=True)).all()
    # ...and invisible to everyone else: only the first batch committed.
    assert escalated() == 10
    assert all(r["escalations"] == [] for tid, r in outcome(committed_db, in_flight).items())
    doomed.kill()  # SIGKILL: no handler, no rollback sent, the connection just drops
    doomed.wait(10)
    assert escalated() == 10  # the killed batch vanished with its transaction
    assert response_timer_states(committed_db, ids) == {"fired": 10, "pending": 20}
    assert all(r["ticket"].escalation_level == 0 for r in outcome(committed_db, in_flight).values())

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
