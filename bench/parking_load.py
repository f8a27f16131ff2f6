"""Parking under a mixed load over HTTP: ``python -m bench.parking_load``.

Issue 16's figure: 2 gunicorn workers on PostgreSQL, 150 devices reporting every 10 s (a
counter, an entry camera and an exit camera at each of 50 car parks: occupancy counts, plates
entering and leaving) alongside 20 reservations a second for 60 s: no 5xx, the reservations'
p99 under 100 ms (over HTTP, under that load).

A fresh PostgreSQL database (``DATABASE_URL`` names the server, as ``make bench``), migrated
and seeded; one ``flask worker`` runs beside (silence marks, no-shows). Devices and arrival
windows come from ``bench/parking_setup.py``; each reservation is a new resident (the booking
limits are per person). Requests are paced by a scheduler (open loop) over a pool of
``--clients`` threads; pacing and report:
``bench/mixed_load.py``; the served database, gunicorn and worker:
``bench.dispatch_load.served_with_worker``.
"""
from __future__ import annotations

import argparse
import sys

from bench.dispatch_load import load_env, served_with_worker
from bench.dispatch_setup import residents, tokens_for
from bench.endpoints import BenchContext
from bench.mixed_load import measure, report
from bench.parking_setup import arrival_windows, devices


def _device_requests(base: str, fleet: list[tuple[str, str, str]], every: float, seconds: float) -> list[tuple]:
    out = []
    for i, (role, lot, auth) in enumerate(fleet):
        t, n = every * i / len(fleet), 0
        while t < seconds:
            if role == "counter":
                out.append((t, "occupancy", f"{base}/api/v1/parking/lots/{lot}/occupancy", "PUT", auth,
                            {"occupied": 20 + (i + n) % 30}))
            else:  # the exit camera sees the cars its entry camera saw a round earlier
                plate = f"沪B{(i // 3) % 100:02d}{n % 1000:03d}"
                path = "entries" if role == "entry" else "exits"
                out.append((t, f"plate {role}", f"{base}/api/v1/parking/lots/{lot}/{path}", "POST", auth,
                            {"plate": plate}))
            t += every
            n += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=150)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between a device's reports")
    parser.add_argument("--reservations", type=float, default=20.0, help="reservations a second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=64)
    args = parser.parse_args(argv)
    total = int(args.reservations * args.seconds)
    env = load_env()
    with served_with_worker(env) as (database, server):
        ctx = BenchContext(server.base_url, database.url, env)
        fleet = devices(ctx, args.devices)
        windows = arrival_windows(ctx, total)
        people = tokens_for(ctx, residents(ctx, total))
        schedule = _device_requests(server.base_url, fleet, args.every, args.seconds)
        for n, (lot, slot_id) in enumerate(windows):
            schedule.append((n / args.reservations, "reservation", server.base_url + "/api/v1/parking/reservations",
                             "POST", f"Bearer {people[n]}",
                             {"lot": lot, "slot_id": slot_id, "plate": f"沪A{n % 100000:05d}"}))
        results, took, app_ms, db_ms = measure(server, schedule, args.clients, database.url)
    print(f"parking load: {args.devices} devices every {args.every:g} s, {args.reservations:g} reservations/s, "
          f"{args.seconds:g} s ({took:.1f} s to send), 2 gunicorn workers, {database.kind}; over HTTP")
    report(results, app_ms, db_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
