"""Taxi under a mixed load over HTTP: ``python -m bench.dispatch_load``.

Issue 17's figure: 2 gunicorn workers on PostgreSQL and Redis, 500 drivers reporting every 5 s
(100 position updates a second) alongside 20 ride requests a second for 60 s: no 5xx, the ride
requests' p99 under 100 ms (over HTTP, under that load).

A fresh PostgreSQL database (``DATABASE_URL`` names the server, as ``make bench``), migrated
and seeded; ``REDIS_URL`` is passed to the server (without it the database path is measured,
and the report says so); one ``flask worker`` runs the offer timeouts; ``--threads``
(``WEB_THREADS``) serves with the gthread worker. The fleet and the riders
come from ``bench/dispatch_setup.py`` (each ride a new resident: one open ride each). Requests
are paced by a scheduler (open loop: a slow answer does not slow the offered load) over a pool
of ``--clients`` threads. Prints per kind: sent, answered, 5xx, p50/p99 (ms) and the p99 of each 10 s, the CPU
ms per request of gunicorn's and PostgreSQL's processes, and the machine's figures
(``mixed_load.MachineMeter``). The same load runs ``--warmup`` seconds first, not counted: a
cold gunicorn worker's first requests (statement compilation, prepared statements, caches)
took 0.4–1.2 s at a third of the load and made the whole run's p99 alone. Nobody accepts an
offer in this load, so every ride is offered on by the worker every 20 s until it ends
unserved (8 offers): the worker's rounds grow through the run, and later windows' tails with
them.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.dispatch_setup import COMPANY_CODE, fleet, residents, tokens_for
from bench.endpoints import BenchContext
from bench.mixed_load import measure, pct, report  # noqa: F401 (pct: sos_load imports it from here)
from bench.run import BIN, ROOT, bench_database, gunicorn, prepare_database, stop
from scenarios.taxi.pilot import PILOT


def load_env() -> dict[str, str]:
    return {**os.environ, "APP_ENV": os.environ.get("APP_ENV", "development"), "LOG_LEVEL": "WARNING"}


@contextmanager
def served_with_worker(env: dict[str, str], workers: int = 2) -> Iterator[tuple[Any, Any]]:
    """A fresh bench database (migrated and seeded), gunicorn with ``workers`` processes on it and
    one ``flask worker`` beside: (database, server); everything stopped and dropped afterwards."""
    with bench_database(env) as database:
        env["DATABASE_URL"] = database.url
        prepare_database(env)
        with gunicorn(env, workers) as server:
            worker = subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                yield database, server
            finally:
                stop(worker)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drivers", type=int, default=500)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between a driver's reports")
    parser.add_argument("--rides", type=float, default=20.0, help="ride requests a second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="seconds of the same load first, not counted (cold processes' first requests)")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS") or 1),
                        help="WEB_THREADS of the server: 1 the sync worker, more the gthread worker")
    args = parser.parse_args(argv)
    env = {**load_env(), "WEB_THREADS": str(args.threads)}
    with served_with_worker(env) as (database, server):
        ctx = BenchContext(server.base_url, database.url, env)
        drivers = tokens_for(ctx, fleet(ctx, args.drivers), COMPANY_CODE)
        warm = args.warmup
        riders = tokens_for(ctx, residents(ctx, int(args.rides * (warm + args.seconds)) + 10))
        position_url = server.base_url + "/api/v1/taxi/agents/me/position"
        ride_url = server.base_url + "/api/v1/taxi/rides"

        def kind(t: float, name: str) -> str:
            return name if t >= warm else f"warm-up {name}"

        schedule = []
        for i, token in enumerate(drivers):
            point = PILOT[i % len(PILOT)]
            t = args.every * i / len(drivers)
            while t < warm + args.seconds:
                schedule.append((t, kind(t, "position update"), position_url, "PUT", f"Bearer {token}",
                                 {"lat": point.lat + 0.001 * (i % 7), "lon": point.lon}))
                t += args.every
        for n in range(int(args.rides * (warm + args.seconds))):
            t = n / args.rides
            schedule.append((t, kind(t, "ride request"), ride_url, "POST", f"Bearer {riders[n]}", {"passengers": 1}))
        results, took, app_ms, db_ms = measure(server, schedule, args.clients, database.url)
    results = {k: [(status, ms, at - warm) for status, ms, at in v] for k, v in results.items()
               if not k.startswith("warm-up")}
    redis = "Redis" if os.environ.get("REDIS_URL") else "no Redis (the database path)"
    worker = f"gthread, {args.threads} threads each" if args.threads > 1 else "sync"
    print(f"dispatch load: {args.drivers} drivers every {args.every:g} s, {args.rides:g} rides/s, {args.seconds:g} s "
          f"after {warm:g} s of warm-up ({took:.1f} s to send), 2 gunicorn workers ({worker}), {database.kind}, "
          f"{redis}; over HTTP")
    report(results, app_ms, db_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
