"""What the mixed-load scripts share (``bench/dispatch_load.py``, ``bench/parking_load.py``; the
served database, gunicorn and worker are ``dispatch_load.served_with_worker``): one request over
HTTP, an open-loop scheduler over a pool of client threads, the CPU meter around it, the report.

A schedule is a list of ``(seconds from the start, kind, url, method, Authorization value,
JSON body)``; requests go out at their time whether or not earlier answers came back (a slow
answer does not slow the offered load).
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Outcomes = dict[str, list[tuple[int, float]]]


def send(url: str, method: str, authorization: str, body: dict) -> tuple[int, float]:
    """(status, ms); status 0 when nothing answered."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,  # noqa: S310
                                     headers={"Authorization": authorization, "Content-Type": "application/json"})
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


def fire(schedule: Sequence[tuple], clients: int) -> tuple[Outcomes, float]:
    """Send the schedule (sorted by time) from ``clients`` threads; (outcomes by kind, seconds to send)."""
    results: Outcomes = defaultdict(list)
    lock = threading.Lock()

    def shoot(kind: str, url: str, method: str, auth: str, body: dict) -> None:
        outcome = send(url, method, auth, body)
        with lock:
            results[kind].append(outcome)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for at, kind, url, method, auth, body in sorted(schedule, key=lambda item: item[0]):
            delay = started + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(shoot, kind, url, method, auth, body)
    return results, time.monotonic() - started


def report(results: Outcomes, app_ms: float | None, db_ms: float | None) -> None:
    """Per kind: answered, 5xx or no answer, p50/p99 and the statuses; the CPU per request."""
    for kind, outcomes in sorted(results.items()):
        times = [ms for status, ms in outcomes if status]
        errors = sum(1 for status, _ in outcomes if status >= 500 or status == 0)
        statuses: dict[int, int] = defaultdict(int)
        for status, _ in outcomes:
            statuses[status] += 1
        print(f"  {kind:<16} {len(outcomes):6d} answered  5xx/none {errors}  p50 {pct(times, 50):7.1f} ms  "
              f"p99 {pct(times, 99):7.1f} ms  statuses {dict(sorted(statuses.items()))}")
    print(f"  CPU ms/request: gunicorn {app_ms or 0:.2f}, PostgreSQL {db_ms or 0:.2f}")


def measure(server: Any, schedule: Sequence[tuple], clients: int, database_url: str | None = None,
            ) -> tuple[Outcomes, float, float | None, float | None]:
    """``fire`` with the CPU meter of gunicorn's and PostgreSQL's processes around it; with
    ``database_url``, the set-up's rows are analysed first and only that database's backends
    (and the server's own processes) are counted."""
    from bench.cpu import CpuMeter
    from bench.run import analyze, database_name

    if database_url is not None:
        analyze(database_url)
    meter = CpuMeter(server.process.pid, with_database=True,
                     database=database_name(database_url) if database_url else None)
    meter.start()
    results, took = fire(schedule, clients)
    app_ms, db_ms = meter.stop(len(schedule))
    return results, took, app_ms, db_ms
