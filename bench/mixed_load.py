"""What the mixed-load scripts share (``bench/dispatch_load.py``, ``bench/parking_load.py``; the
served database, gunicorn and worker are ``dispatch_load.served_with_worker``): one request over
HTTP, an open-loop scheduler over a pool of client threads, the CPU meter around it, the report.

A schedule is a list of ``(seconds from the start, kind, url, method, Authorization value,
JSON body)``; requests go out at their time whether or not earlier answers came back (a slow
answer does not slow the offered load).
"""
from __future__ import annotations

import json
import os
import resource
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Outcomes = dict[str, list[tuple[int, float, float]]]
"""Per kind: (status, ms, seconds from the start when it was sent)."""
WINDOW_S = 10.0


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

    def shoot(kind: str, at: float, url: str, method: str, auth: str, body: dict) -> None:
        status, ms = send(url, method, auth, body)
        with lock:
            results[kind].append((status, ms, at))

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for at, kind, url, method, auth, body in sorted(schedule, key=lambda item: item[0]):
            delay = started + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(shoot, kind, at, url, method, auth, body)
    return results, time.monotonic() - started


def report(results: Outcomes, app_ms: float | None, db_ms: float | None) -> None:
    """Per kind: answered, 5xx or no answer, p50/p99 and the statuses, then the p99 of each
    ``WINDOW_S`` of the run (a tail made by the first seconds of cold processes reads differently
    from one spread through the run); the CPU per request."""
    for kind, outcomes in sorted(results.items()):
        times = [ms for status, ms, _ in outcomes if status]
        errors = sum(1 for status, _, _ in outcomes if status >= 500 or status == 0)
        statuses: dict[int, int] = defaultdict(int)
        windows: dict[int, list[float]] = defaultdict(list)
        for status, ms, at in outcomes:
            statuses[status] += 1
            if status:
                windows[int(at // WINDOW_S)].append(ms)
        print(f"  {kind:<16} {len(outcomes):6d} answered  5xx/none {errors}  p50 {pct(times, 50):7.1f} ms  "
              f"p99 {pct(times, 99):7.1f} ms  statuses {dict(sorted(statuses.items()))}")
        print(f"  {'':<16} p99 per {WINDOW_S:g} s: " + " ".join(f"{pct(windows[w], 99):.0f}" for w in sorted(windows)))
    print(f"  CPU ms/request: gunicorn {app_ms or 0:.2f}, PostgreSQL {db_ms or 0:.2f}")
    if MACHINE:
        print(f"  machine: {MACHINE['busy']:.0%} of {MACHINE['cores']:.0f} cores busy during the run; "
              f"the load generator {MACHINE['generator_ms']:.2f} CPU ms/request; the reference /healthz "
              f"{MACHINE['reference_ms']:.3f} CPU ms in process (this machine's speed)")


class MachineMeter:
    """How busy the whole machine was (``/proc/stat``: every process, the load generator, the
    worker, Redis included) and this process's own CPU (the load generator's threads): a p99
    read without them cannot tell a slow server from a saturated machine."""

    def __init__(self) -> None:
        self.cores = os.cpu_count() or 1

    @staticmethod
    def _jiffies() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields[:8]) - idle, sum(fields[:8])

    def start(self) -> None:
        self.busy0, self.total0 = self._jiffies()
        self.own0 = resource.getrusage(resource.RUSAGE_SELF)

    def stop(self, requests: int) -> tuple[float, float]:
        """(share of all cores busy, the load generator's CPU ms per request)."""
        busy, total = self._jiffies()
        own = resource.getrusage(resource.RUSAGE_SELF)
        own_s = (own.ru_utime - self.own0.ru_utime) + (own.ru_stime - self.own0.ru_stime)
        return (busy - self.busy0) / max(1, total - self.total0), own_s * 1000 / max(1, requests)


def reference_cpu_ms(n: int = 2000) -> float:
    """The reference app's ``GET /healthz`` in process (Flask's test client), CPU ms a request:
    this machine's speed, measured in the same run as the load (these machines differ by 3×)."""
    from bench.reference_app import app

    client = app.test_client()
    for _ in range(200):
        client.get("/healthz")
    started = time.process_time()
    for _ in range(n):
        client.get("/healthz")
    return (time.process_time() - started) * 1000 / n


MACHINE: dict[str, float] = {}
"""The last ``measure``'s machine figures, which ``report`` prints."""


def measure(server: Any, schedule: Sequence[tuple], clients: int, database_url: str | None = None,
            ) -> tuple[Outcomes, float, float | None, float | None]:
    """``fire`` with the CPU meter of gunicorn's and PostgreSQL's processes around it; with
    ``database_url``, the set-up's rows are analysed first and only that database's backends
    (and the server's own processes) are counted. The machine's figures go to ``MACHINE``."""
    from bench.cpu import CpuMeter
    from bench.run import analyze, database_name

    if database_url is not None:
        analyze(database_url)
    meter = CpuMeter(server.process.pid, with_database=True,
                     database=database_name(database_url) if database_url else None)
    machine = MachineMeter()
    meter.start()
    machine.start()
    results, took = fire(schedule, clients)
    app_ms, db_ms = meter.stop(len(schedule))
    busy, generator_ms = machine.stop(len(schedule))
    MACHINE.update(busy=busy, cores=machine.cores, generator_ms=generator_ms, reference_ms=reference_cpu_ms())
    return results, took, app_ms, db_ms
