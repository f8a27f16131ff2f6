"""elderly-sos under its issue's load over HTTP: ``python -m bench.sos_load``.

Issue 18's figure: 100 alarms arriving in one minute (100 wearables, each pressing once, paced
evenly) with the worker ticking normally (``flask worker``: chains, deliveries) and operators
on duty polling their offers (``GET /agents/me/offers`` every ``--poll`` seconds, as the desk
would); from a press to the alarm offered to the operators, p99 under 2 s.

Two figures per alarm: the press's answer (the offers to every on-duty operator are committed
with it, so this is press → offered in the database), and press → first seen by a polling
operator (what a person at the desk experiences, at most one poll interval more). A fresh
PostgreSQL database (``DATABASE_URL`` names the server, as ``make bench``), migrated and
seeded; 2 gunicorn workers. Prints sent, statuses, p50/p99 of both, and the CPU ms per request
of gunicorn's and PostgreSQL's processes.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from bench.cpu import CpuMeter
from bench.dispatch_load import load_env, pct, served_with_worker
from bench.endpoints import BenchContext
from bench.run import analyze, database_name
from bench.sos_setup import operator_tokens, seed

PATH = "/api/v1/elderly-sos"


def _call(url: str, method: str, auth: str, body: dict | None = None) -> tuple[int, dict | list | None]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,  # noqa: S310 (our own server)
                                     headers={"Authorization": auth, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code, None
    except OSError:
        return 0, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alarms", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--operators", type=int, default=10)
    parser.add_argument("--pollers", type=int, default=3, help="operators polling their offers")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between a poller's polls")
    args = parser.parse_args(argv)
    env = load_env()
    with served_with_worker(env) as (database, server):
        ctx = BenchContext(server.base_url, database.url, env)
        ops, auths = seed(ctx, operators=args.operators, wearables=args.alarms)
        pollers = [f"Bearer {t}" for t in operator_tokens(ctx, ops[:args.pollers])]
        pressed: dict[int, tuple[float, float, int]] = {}  # n -> (sent, answered, status)
        alarm_of: dict[int, int] = {}
        seen: dict[int, float] = {}  # job id -> first seen by a poller
        lock = threading.Lock()
        done = threading.Event()

        def press(n: int) -> None:
            sent = time.monotonic()
            status, body = _call(server.base_url + f"{PATH}/alarms", "POST", auths[n], {})
            with lock:
                pressed[n] = (sent, time.monotonic(), status)
                if isinstance(body, dict) and "id" in body:
                    alarm_of[n] = body["id"]

        def poll(auth: str) -> None:
            while not done.is_set():
                status, body = _call(server.base_url + f"{PATH}/agents/me/offers", "GET", auth)
                now = time.monotonic()
                if status == 200 and isinstance(body, dict):
                    with lock:
                        for item in body.get("items", []):
                            seen.setdefault(item["job_id"], now)
                done.wait(args.poll)

        threads = [threading.Thread(target=poll, args=(a,), daemon=True) for a in pollers]
        for t in threads:
            t.start()
        analyze(database.url)
        meter = CpuMeter(server.process.pid, with_database=True, database=database_name(database.url))
        meter.start()
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool:
            for n in range(args.alarms):
                delay = started + n * args.seconds / args.alarms - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(press, n)
        time.sleep(max(2.0, 2 * args.poll))
        done.set()
        for t in threads:
            t.join(10)
        app_ms, db_ms = meter.stop(args.alarms)
        jobs = _jobs(database.url, list(alarm_of.values()))
    answered = [(a - s) * 1000 for s, a, status in pressed.values() if status == 201]
    to_seen = [(seen[jobs[alarm_of[n]]] - s) * 1000 for n, (s, _a, _st) in pressed.items()
               if n in alarm_of and jobs.get(alarm_of[n]) in seen]
    statuses: dict[int, int] = {}
    for _s, _a, status in pressed.values():
        statuses[status] = statuses.get(status, 0) + 1
    print(f"elderly-sos load: {args.alarms} alarms in {args.seconds:g} s, {args.operators} operators on duty "
          f"({args.pollers} polling every {args.poll:g} s), 2 gunicorn workers, a worker, {database.kind}; over HTTP")
    print(f"  press answered (offers committed): p50 {pct(answered, 50):7.1f} ms  p99 {pct(answered, 99):7.1f} ms  "
          f"statuses {dict(sorted(statuses.items()))}")
    print(f"  press → seen by a polling operator: {len(to_seen)}/{len(alarm_of)} seen, p50 {pct(to_seen, 50):7.1f} ms  "
          f"p99 {pct(to_seen, 99):7.1f} ms (target p99 < 2000 ms)")
    print(f"  CPU ms/alarm (the whole run: presses, polls, the worker's deliveries not included): "
          f"gunicorn {app_ms or 0:.2f}, PostgreSQL {db_ms or 0:.2f}")
    return 0


def _jobs(database_url: str, alarm_ids: list[int]) -> dict[int, int]:
    """alarm id → its dispatch job's id."""
    from app.db import Database

    db = Database(database_url)
    try:
        with db.transaction(write=False) as s:
            rows = s.execute(sa.text("SELECT id, job_id FROM sos_alarms WHERE id = ANY(:ids)"),
                             {"ids": alarm_ids}).all()
        return {a: j for a, j in rows}
    finally:
        db.dispose()


if __name__ == "__main__":
    sys.exit(main())
