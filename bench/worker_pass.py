"""One worker pass over a big timers table: ``python -m bench.worker_pass``.

Creates its own database (PostgreSQL by default: ``BENCH_DATABASE_URL`` or
``TEST_DATABASE_URL``, else postgresql://postgres@127.0.0.1:5432/postgres names the server;
``--sqlite`` uses a temporary file), migrates it, loads 200,000 pending timers of which 2,000
are due, and times ``Worker.run_once`` with a trivial handler: once with the 2,000 due, and
with none due. Drops the database at the end. Targets: < 2 s and < 20 ms.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from app.clock import SystemClock
from app.db import Database, create_engine
from app.migrations_state import alembic_config
from app.timers import timer_handler
from app.worker import Worker

FIRED: list[int] = []


@timer_handler("bench.noop")
def noop(session, timer, clock) -> None:
    FIRED.append(timer.id)


@contextmanager
def scratch_database(sqlite: bool) -> Iterator[str]:
    if sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    server = (os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
              or "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"jinshan_bench_worker_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(create_engine(server).url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def migrate(url: str) -> None:
    from alembic import command

    cfg = alembic_config(url)
    cfg.attributes["skip_logging"] = True
    command.upgrade(cfg, "head")


def load(db: Database, total: int, due: int) -> None:
    """``total`` pending timers: ``due`` of them up to a minute overdue, the rest in the future."""
    pg = db.dialect == "postgresql"
    now = "now()" if pg else "strftime('%Y-%m-%d %H:%M:%f', 'now')"
    series = ("SELECT g AS i FROM generate_series(1, :total) AS g" if pg else
              "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :total) SELECT i FROM s")
    if pg:
        due_at = ("CASE WHEN i <= :due THEN now() - (i * interval '25 milliseconds') "
                  "ELSE now() + interval '1 hour' + (i * interval '1 second') END")
    else:
        due_at = ("CASE WHEN i <= :due THEN strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (i * 0.025) || ' seconds') "
                  "ELSE strftime('%Y-%m-%d %H:%M:%f', 'now', '+1 hour', '+' || i || ' seconds') END")
    sql = f"""
        INSERT INTO timers (subject_type, subject_id, kind, level, due_at, state, attempts, created_at)
        SELECT CASE WHEN i <= :due THEN 'due' ELSE 'later' END, CAST(i AS VARCHAR(20)), 'bench.noop', 0,
               {due_at}, 'pending', 0, {now}
        FROM ({series}) AS series"""
    with db.engine.begin() as conn:
        conn.execute(sa.text(sql), {"total": total, "due": due})
    analyse(db)


def analyse(db: Database) -> None:
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE timers")
    else:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE timers")


def rearm_due(db: Database) -> None:
    """Put the 2,000 back to pending and overdue, as they were."""
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE timers SET state = 'pending', fired_at = NULL WHERE subject_type = 'due'"))
    analyse(db)


def claim_plan(db: Database) -> str:
    if db.dialect != "postgresql":
        sql = ("EXPLAIN QUERY PLAN SELECT * FROM timers WHERE state = 'pending' AND due_at <= "
               "strftime('%Y-%m-%d %H:%M:%f', 'now') ORDER BY due_at LIMIT 100")
        with db.engine.connect() as conn:
            return " | ".join(str(r[-1]) for r in conn.exec_driver_sql(sql))
    sql = ("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM timers WHERE state = 'pending' AND due_at <= now() "
           "ORDER BY due_at LIMIT 100 FOR UPDATE SKIP LOCKED")
    with db.engine.begin() as conn:
        lines = [r[0] for r in conn.exec_driver_sql(sql)]
    return "\n    ".join(lines)


def timed(func) -> tuple[float, object]:
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--total", type=int, default=200_000)
    parser.add_argument("--due", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, action="append", help="repeatable; default 100 and 500")
    args = parser.parse_args(argv)
    batch_sizes = args.batch_size or [100, 500]

    with scratch_database(args.sqlite) as url:
        migrate(url)
        db = Database(url)
        try:
            started = time.perf_counter()
            load(db, args.total, args.due)
            print(f"{db.dialect}: {args.total:,} pending timers, {args.due:,} due "
                  f"(loaded in {time.perf_counter() - started:.1f} s)")
            print(f"  claim plan (none fired yet):\n    {claim_plan(db)}")
            for batch_size in batch_sizes:
                worker = Worker(db, SystemClock(), batch_size=batch_size, periodic_jobs={})
                due_times = []
                for _ in range(args.rounds):
                    rearm_due(db)
                    FIRED.clear()
                    elapsed, count = timed(worker.run_once)
                    assert count == len(FIRED) == args.due, (count, len(FIRED))
                    due_times.append(elapsed)
                idle = [timed(worker.run_once)[0] for _ in range(50)]
                worker.release_lease()  # SQLite: the next worker (batch size) takes over at once
                assert not FIRED or len(FIRED) == args.due
                print(f"  batch {batch_size}: run_once with {args.due:,} due: "
                      f"median {statistics.median(due_times):.3f} s (runs: "
                      f"{', '.join(f'{t:.3f}' for t in due_times)}); "
                      f"none due: median {statistics.median(idle) * 1000:.2f} ms, "
                      f"max {max(idle) * 1000:.2f} ms (50 runs)")
        finally:
            db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
