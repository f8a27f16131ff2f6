"""Taxi under a mixed load over HTTP: ``python -m bench.dispatch_load``.

Issue 17's figure: 2 gunicorn workers on PostgreSQL and Redis, 500 drivers reporting every 5 s
(100 position updates a second) alongside 20 ride requests a second for 60 s: no 5xx, the ride
requests' p99 under 100 ms (over HTTP, under that load).

A fresh PostgreSQL database (``DATABASE_URL`` names the server, as ``make bench``), migrated
and seeded; ``REDIS_URL`` is passed to the server (without it the database path is measured,
and the report says so); one ``flask worker`` runs the offer timeouts. The fleet and the riders
come from ``bench/dispatch_setup.py`` (each ride a new resident: one open ride each). Requests
are paced by a scheduler (open loop: a slow answer does not slow the offered load) over a pool
of ``--clients`` threads. Prints per kind: sent, answered, 5xx, p50/p99 (ms), and the CPU ms
per request of gunicorn's and PostgreSQL's processes.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from bench.cpu import CpuMeter
from bench.dispatch_setup import COMPANY_CODE, fleet, residents, tokens_for
from bench.endpoints import BenchContext
from bench.run import BIN, ROOT, bench_database, gunicorn, prepare_database, stop
from scenarios.taxi.pilot import PILOT


def _send(url: str, method: str, token: str, body: dict) -> tuple[int, float]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,  # noqa: S310
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 (our own server)
            resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    except OSError:
        status = 0
    return status, (time.perf_counter() - started) * 1000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


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
    args = parser.parse_args(argv)
    env = load_env()
    with served_with_worker(env) as (database, server):
        ctx = BenchContext(server.base_url, database.url, env)
        drivers = tokens_for(ctx, fleet(ctx, args.drivers), COMPANY_CODE)
        riders = tokens_for(ctx, residents(ctx, int(args.rides * args.seconds) + 10))
        results: dict[str, list[tuple[int, float]]] = defaultdict(list)
        lock = threading.Lock()

        def shoot(kind: str, url: str, method: str, token: str, body: dict) -> None:
            outcome = _send(url, method, token, body)
            with lock:
                results[kind].append(outcome)

        position_url = server.base_url + "/api/v1/taxi/agents/me/position"
        ride_url = server.base_url + "/api/v1/taxi/rides"
        schedule = []
        for i, token in enumerate(drivers):
            point = PILOT[i % len(PILOT)]
            first = args.every * i / len(drivers)
            t = first
            while t < args.seconds:
                schedule.append((t, "position update", position_url, "PUT", token,
                                 {"lat": point.lat + 0.001 * (i % 7), "lon": point.lon}))
                t += args.every
        for n in range(int(args.rides * args.seconds)):
            schedule.append((n / args.rides, "ride request", ride_url, "POST", riders[n], {"passengers": 1}))
        schedule.sort(key=lambda item: item[0])
        meter = CpuMeter(server.process.pid, with_database=True)
        meter.start()
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            for at, kind, url, method, token, body in schedule:
                delay = started + at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(shoot, kind, url, method, token, body)
        took = time.monotonic() - started
        app_ms, db_ms = meter.stop(len(schedule))
    redis = "Redis" if os.environ.get("REDIS_URL") else "no Redis (the database path)"
    print(f"dispatch load: {args.drivers} drivers every {args.every:g} s, {args.rides:g} rides/s, {args.seconds:g} s "
          f"({took:.1f} s to send), 2 gunicorn workers, {database.kind}, {redis}; over HTTP")
    for kind, outcomes in sorted(results.items()):
        times = [ms for status, ms in outcomes if status]
        errors = sum(1 for status, _ in outcomes if status >= 500 or status == 0)
        statuses = dict(sorted(defaultdict(int, {s: sum(1 for x, _ in outcomes if x == s)
                                                 for s in {x for x, _ in outcomes}}).items()))
        print(f"  {kind:<16} {len(outcomes):6d} answered  5xx/none {errors}  p50 {statistics.median(times):7.1f} ms  "
              f"p99 {pct(times, 99):7.1f} ms  statuses {statuses}")
    print(f"  CPU ms/request: gunicorn {app_ms or 0:.2f}, PostgreSQL {db_ms or 0:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
