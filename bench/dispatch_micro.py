"""The nearest 5 available of 10,000 drivers within 3 km, in process: ``python -m bench.dispatch_micro``.

Issue 17's figure: p99 under 5 ms with Redis, under 30 ms from PostgreSQL, over 10,000 searches.
Creates its own PostgreSQL database (``BENCH_DATABASE_URL`` or ``TEST_DATABASE_URL`` names the
server, else postgresql://postgres@127.0.0.1:5432/postgres), migrates it, places ``--agents``
drivers uniformly over a 30 × 30 km square of the district (about 300 within 3 km of a point),
one in ten unavailable (off duty, serving, stale), and runs ``--searches`` searches from random
points through each path: the database (bounding box, exact distance) and, with ``REDIS_URL``,
Redis GEOSEARCH checked against the database (``scenarios/engines/dispatch/nearby.py``). Prints
p50, p99 and the CPU milliseconds per search of this process and of PostgreSQL's processes.
Uses a scenario name of its own in Redis and deletes its keys at the end; drops the database.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.db import Database
from bench.cpu import cpu_seconds, postgres_pids
from bench.worker_pass import migrate, scratch_database

CENTRE = (30.80, 121.25)
HALF_SIDE_M = 15_000


def _deg(lat: float, north_m: float, east_m: float) -> tuple[float, float]:
    import math

    return lat + north_m / 111_195.0, CENTRE[1] + east_m / (111_195.0 * math.cos(math.radians(lat)))


def load(db: Database, slug: str, n: int, seed: int) -> None:
    from auth.models import Account, Membership
    from auth.organisations import Organisation
    from scenarios.engines.dispatch.models import DispatchAgent

    rng = random.Random(seed)
    now = datetime.now(UTC)
    with db.transaction() as s:
        org = Organisation(code=f"bench-taxi-{slug}", name="压测出租", type="taxi_company", active=True, attributes={})
        s.add(org)
        s.flush()
        ids = s.execute(sa.insert(Account).returning(Account.id), [
            {"kind": "staff", "username": f"bench-{slug}-{i}", "password_hash": "-", "status": "active"}
            for i in range(n)]).scalars().all()
        s.execute(sa.insert(Membership), [{"account_id": a, "organisation_id": org.id, "role": "driver",
                                           "status": "active"} for a in ids])
        rows = []
        for a in ids:
            lat, lon = _deg(CENTRE[0], rng.uniform(-HALF_SIDE_M, HALF_SIDE_M), rng.uniform(-HALF_SIDE_M, HALF_SIDE_M))
            kind = rng.random()
            rows.append({"scenario": slug, "account_id": a, "org_id": org.id, "on_duty": kind > 0.03,
                         "job_id": 1 if 0.03 < kind < 0.06 else None, "lat": lat, "lon": lon,
                         "position_at": now + timedelta(hours=1) if kind > 0.1 else now - timedelta(hours=1),
                         "outside_area": False, "available_since": now, "details": {}, "updated_at": now})
        s.execute(sa.insert(DispatchAgent), rows)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE dispatch_agents")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(db: Database, config, index, points, now) -> tuple[list[float], float, float, int]:
    from scenarios.engines.dispatch.nearby import nearest

    times, found = [], 0
    db_pids = postgres_pids()
    cpu0, db0 = time.process_time(), cpu_seconds(db_pids)
    with db.transaction(write=False) as s:
        for lat, lon in points:
            t = time.perf_counter()
            found += len(nearest(s, config, lat=lat, lon=lon, radius_m=3000, limit=5, now=now, index=index))
            times.append((time.perf_counter() - t) * 1000)
    n = len(points)
    return times, (time.process_time() - cpu0) * 1000 / n, (cpu_seconds(db_pids) - db0) * 1000 / n, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--searches", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args(argv)
    from scenarios.engines.dispatch.nearby import GeoIndex
    from scenarios.taxi import CONFIG

    slug = f"bench-{uuid.uuid4().hex[:6]}"
    config = replace(CONFIG, slug=slug)
    rng = random.Random(args.seed + 1)
    points = [_deg(CENTRE[0], rng.uniform(-12_000, 12_000), rng.uniform(-12_000, 12_000))
              for _ in range(args.searches)]
    with scratch_database(False) as url:
        migrate(url)
        db = Database(url)
        index = None
        try:
            load(db, slug, args.agents, args.seed)
            now = datetime.now(UTC)
            paths = [("PostgreSQL", None)]
            if os.environ.get("REDIS_URL"):
                from scenarios.engines.dispatch.models import DispatchAgent

                index = GeoIndex(os.environ["REDIS_URL"])
                with db.transaction(write=False) as s:
                    for agent in s.scalars(sa.select(DispatchAgent).where(DispatchAgent.scenario == slug)):
                        if agent.on_duty and agent.job_id is None:
                            index.put(slug, agent.id, agent.lat, agent.lon, agent.position_at)
                paths.append(("Redis", index))
            print(f"dispatch micro: nearest 5 within 3 km of {args.agents:,} agents, {args.searches:,} searches "
                  "in process")
            for name, idx in paths:
                run(db, config, idx, points[:200], now)  # warm-up
                times, app_ms, db_ms, found = run(db, config, idx, points, now)
                print(f"  {name:<10} p50 {statistics.median(times):6.2f} ms  p99 {pct(times, 99):6.2f} ms  "
                      f"CPU ms/search: this process {app_ms:.2f}, PostgreSQL {db_ms:.2f}  "
                      f"({found / len(points):.1f} found on average)")
        finally:
            if index is not None:
                index.clear(slug)
            db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
