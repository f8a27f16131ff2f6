"""What one database statement costs the app in CPU: ``python -m bench.statement_cost``.

Runs the same one-row query ``--n`` times (default 3,000; after a warm-up) four ways against
PostgreSQL (``BENCH_DATABASE_URL`` or ``TEST_DATABASE_URL``, else
postgresql://postgres@127.0.0.1:5432/postgres) and prints the median CPU (``process_time``)
and wall milliseconds per query over ``--rounds`` rounds (default 3):

- ``session, transaction``: an ORM session as a writing request gets it (BEGIN, query, COMMIT);
- ``session, autocommit``: as a read request or an ``@single_statements`` view gets it;
- ``core, autocommit``: ``engine.connect()`` and the query;
- ``core, open connection``: the query alone on a connection already checked out;
- ``psycopg, autocommit``: the driver alone, no SQLAlchemy.

The gap between the first and the last is what every extra statement of a hot endpoint
costs in Python before PostgreSQL does any work (see bench/RESULTS.md, "the authenticated
floor"). Nothing is written; no schema is needed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import sqlalchemy as sa

from app.db import Database

QUERY = "SELECT CAST(:n AS integer) + 1 AS m, now() AS at"


def _database_url() -> str:
    return (os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
            or "postgresql://postgres@127.0.0.1:5432/postgres")


def ways(db: Database) -> dict[str, Callable[[], object]]:
    stmt = sa.text(QUERY)
    autocommit = db.engine.execution_options(isolation_level="AUTOCOMMIT")
    held = autocommit.connect()
    raw = db.engine.raw_connection().driver_connection
    raw.autocommit = True
    raw_sql = QUERY.replace(":n", "%(n)s")

    def session_tx() -> object:
        s = db.new_session(write=True)
        try:
            row = s.connection().execute(stmt, {"n": 1}).first()
            s.commit()
            return row
        finally:
            s.close()

    def session_ac() -> object:
        s = db.new_session(write=False, autocommit=True)
        try:
            return s.connection().execute(stmt, {"n": 1}).first()
        finally:
            s.close()

    def core_ac() -> object:
        with autocommit.connect() as conn:
            return conn.execute(stmt, {"n": 1}).first()

    def core_open() -> object:
        return held.execute(stmt, {"n": 1}).first()

    def psycopg_ac() -> object:
        with raw.cursor() as cur:
            cur.execute(raw_sql, {"n": 1})
            return cur.fetchone()

    return {"session, transaction": session_tx, "session, autocommit": session_ac,
            "core, autocommit": core_ac, "core, open connection": core_open, "psycopg, autocommit": psycopg_ac}


def measure(fn: Callable[[], object], n: int) -> tuple[float, float]:
    """CPU and wall milliseconds per call."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        fn()
    return (time.process_time() - cpu) * 1000 / n, (time.perf_counter() - wall) * 1000 / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    db = Database(_database_url())
    if db.dialect != "postgresql":
        parser.error("needs a PostgreSQL URL")
    try:
        candidates = ways(db)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in candidates}
        for fn in candidates.values():
            measure(fn, max(args.n // 10, 50))  # warm-up: caches, prepared statements
        for _ in range(args.rounds):
            for name, fn in candidates.items():  # interleaved: drift hits every way alike
                results[name].append(measure(fn, args.n))
        print(f"one-row query, {args.n} calls × {args.rounds} rounds, medians per call:")
        for name, runs in results.items():
            cpu = statistics.median(r[0] for r in runs)
            wall = statistics.median(r[1] for r in runs)
            print(f"  {name:<22} CPU {cpu:.3f} ms  wall {wall:.3f} ms")
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
