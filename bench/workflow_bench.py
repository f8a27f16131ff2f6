"""Workflow benchmarks on PostgreSQL: ``python -m bench.workflow_bench``.

Creates its own database (``BENCH_DATABASE_URL`` or ``TEST_DATABASE_URL`` names the server,
else postgresql://postgres@127.0.0.1:5432/postgres), migrates it, loads the reference places,
then measures:

1. a company's queue (``GET /api/v1/property-repair/queue``) with 5,000 open tickets of its
   own among 20,000, in process with the Flask test client (no network): p50 and p99 of
   500 requests per variant. Target: p99 < 50 ms.
2. one worker pass over 200,000 open tickets (600,000 pending timers) of which 2,000 are due
   for escalation, with the real handlers (conditional update, event, notification to the
   company's manager): the escalations alone, and the full pass that also delivers the
   notifications they enqueued (log channel). Target: < 2 s; and a pass with none due: < 20 ms.

Each timed figure is the median of ``--rounds`` runs (3). Drops the database at the end.
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from app.clock import SystemClock
from app.db import Database
from app.worker import Worker
from bench.worker_pass import migrate, scratch_database
from bench.workflow_data import (
    companies_with_communities,
    load_pg_tickets_with_timers,
    manager_account,
    policy_id,
    queue_world,
    reporter_account,
)


def pct(values: list[float], p: float) -> float:
    from scenarios.engines.workflow.stats import percentile

    return percentile(values, p) or 0.0


def queue_bench(url: str, db: Database, rounds: int, requests: int) -> None:
    from app import create_app
    from app.config import load_settings
    from auth import tokens
    from auth.models import Account
    from auth.organisations import Organisation

    now = datetime.now(UTC)
    with db.engine.begin() as conn:
        a, manager = queue_world(conn, now, manager="bench-queue-manager")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE wf_tickets")
    settings = load_settings({"APP_ENV": "development", "DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    app = create_app(settings, database=db, clock=SystemClock())
    with app.app_context(), db.transaction() as s:
        token = tokens.issue_pair(s, clock=SystemClock(), account=s.get(Account, manager),
                                  org=s.get(Organisation, a[0])).access_token
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    variants = {
        "queue (default: open, by deadline)": "",
        "queue overdue=true": "&overdue=true",
        "queue category=电梯": "&category=电梯",
        "queue due_soon=true": "&due_soon=true",
        "queue page 50": "&page=50",
    }
    print("queue: 5,000 open tickets of the company among 20,000; page_size=20; in-process test client")
    for name, extra in variants.items():
        path = f"/api/v1/property-repair/queue?page_size=20{extra}"
        first = client.get(path, headers=headers)
        assert first.status_code == 200, first.get_json()
        total = first.get_json()["total"]
        p50s, p99s = [], []
        for _ in range(rounds):
            for _ in range(20):
                client.get(path, headers=headers)
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                resp = client.get(path, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert resp.status_code == 200
            p50s.append(pct(times, 50))
            p99s.append(pct(times, 99))
        print(f"  {name:<36} total {total:>5}: p50 {statistics.median(p50s):6.2f} ms, "
              f"p99 {statistics.median(p99s):6.2f} ms (median of {rounds} × {requests}; "
              f"p99 per run {', '.join(f'{x:.1f}' for x in p99s)})")


def reset_due(db: Database, due: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM timers WHERE kind = 'notify.deliver'"))
        conn.execute(sa.text("DELETE FROM notify_outbox"))
        conn.execute(sa.text("DELETE FROM wf_ticket_events WHERE action = 'escalate'"))
        conn.execute(sa.text(
            "UPDATE wf_tickets SET escalation_level = 0, response_breached = false, version = 1 "
            "WHERE escalation_level > 0"))
        conn.execute(sa.text(
            "UPDATE timers SET state = 'pending', fired_at = NULL WHERE kind = 'workflow.response' AND level = 1 "
            "AND state = 'fired'"))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("timers", "wf_tickets", "wf_ticket_events", "notify_outbox"):
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")


def worker_bench(db: Database, total: int, due: int, rounds: int, managers: int) -> None:
    with db.engine.begin() as conn:
        policy = policy_id(conn, datetime.now(UTC))
        company, community, building = companies_with_communities(conn, 1)[0]
        reporter = reporter_account(conn, "bench-worker-reporter")
        for i in range(managers):
            manager_account(conn, company, f"bench-worker-manager{i}", "-")
    started = time.perf_counter()
    load_pg_tickets_with_timers(db, total=total, due=due, org_id=company, community_id=community,
                                building_id=building, reporter_id=reporter, policy=policy)
    print(f"worker: {total:,} open tickets, {3 * total:,} pending timers, {due:,} due "
          f"(loaded in {time.perf_counter() - started:.1f} s); {managers} manager(s) told per escalation")
    # Escalation timers are due before the delivery timers they create (those are due "now"),
    # so a pass cut at due / batch_size batches handles exactly the escalations.
    batch = 100
    for label, max_batches in (("escalations (2,000 timers; their notifications enqueued, not yet delivered)",
                                due // batch),
                               (f"full pass (escalations + delivering the {managers * due:,} notifications)", 100)):
        worker = Worker(db, SystemClock(), batch_size=batch, periodic_jobs={}, max_batches_per_pass=max_batches)
        passes = []
        for _ in range(rounds):
            reset_due(db, due)
            started = time.perf_counter()
            worker.run_once()
            passes.append(time.perf_counter() - started)
            with db.engine.connect() as conn:
                escalated = conn.scalar(sa.text("SELECT count(*) FROM wf_ticket_events WHERE action = 'escalate'"))
            assert escalated == due, escalated
        print(f"  {label}: median {statistics.median(passes):.3f} s (runs {', '.join(f'{x:.3f}' for x in passes)})")
    worker = Worker(db, SystemClock(), batch_size=100, periodic_jobs={})
    idle = []
    for _ in range(50):
        started = time.perf_counter()
        worker.run_once()
        idle.append(time.perf_counter() - started)
    print(f"  pass with none due: median {statistics.median(idle) * 1000:.2f} ms, max {max(idle) * 1000:.2f} ms "
          f"(50 runs)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=200_000)
    parser.add_argument("--due", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--skip-queue", action="store_true")
    parser.add_argument("--skip-worker", action="store_true")
    parser.add_argument("--managers", type=int, default=1, help="managers told of each escalation")
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)  # the log channel would print a line per notification
    with scratch_database(False) as url:
        migrate(url)
        db = Database(url)
        try:
            from app.places.seed import load_reference

            load_reference(db)
            if not args.skip_queue:
                queue_bench(url, db, args.rounds, args.requests)
            if not args.skip_worker:
                worker_bench(db, args.total, args.due, args.rounds, args.managers)
        finally:
            db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
