"""Two gunicorn web processes and a worker on one PostgreSQL: each web process answers from its
own authentication cache, and a change made elsewhere (the CLI, a hand-written UPDATE, a logout
through the other process) is refused by every web process within 1 s.

The cache must really be in use, or the test would pass on database reads alone: the web
processes share a Prometheus multiprocess directory and ``/metrics`` must show cache hits.
"""
from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.clock import SystemClock
from tests.support.database import backend
from tests.support.factories import bearer, make_resident, token_for
from tests.support.worker_processes import start_worker

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TRIALS = 8
DEADLINE = 1.0

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(backend() != "postgresql", reason="listeners are PostgreSQL's")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (our own server)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:  # not listening yet
        return 0


def _body(url: str, headers: dict[str, str]) -> str:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as resp:  # noqa: S310
            return resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.read().decode()


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir(exist_ok=True)
    return {**os.environ, "APP_ENV": "test", "AUTH_CACHE": "on", "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING", "METRICS_TOKEN": "metrics-secret", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}


def _cache_hits(base: str) -> float:
    request = urllib.request.Request(base + "/metrics", headers={"Authorization": "Bearer metrics-secret"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith('jinshan_auth_cache_lookups_total{result="hit"}'))


def _until(pred, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _time_to_refusal(base: str, headers: dict[str, str], started: float) -> float:
    """Seconds from ``started`` (the commit) to the last answer that was not a refusal, proven by
    20 refusals in a row afterwards (gunicorn hands connections to both workers)."""
    last_ok, refusals = started, 0
    while refusals < 20:
        status = _get(base + "/api/v1/me", headers)
        now = time.monotonic()
        if status == 401:
            refusals += 1
        else:
            assert status == 200, status
            refusals, last_ok = 0, now
        assert now - started < DEADLINE + 2, "never refused"
    return last_ok - started


def test_two_web_processes_refuse_a_change_made_elsewhere_within_a_second(committed_db, tmp_path, _app):
    url = committed_db.engine.url.render_as_string(hide_password=False)
    with _app.app_context(), committed_db.transaction() as s:  # the app for the data keys, not bound to a test

        account = make_resident(s, name="两进程")
        headers = bearer(token_for(s, SystemClock(), account))  # the servers' time is the real one
        account_id = account.id
    env = _env(url, tmp_path)
    port = _free_port()
    procs: list[subprocess.Popen] = []
    log = (tmp_path / "gunicorn.log").open("wb")
    procs.append(subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--no-control-socket", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    start_worker(procs, url, tmp_path, "cache-worker", "--tick", "0.2")
    base = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _get(base + "/healthz", {}) == 200, "gunicorn")
        for _ in range(40):  # both workers see the account, and their listeners start
            assert _get(base + "/api/v1/me", headers) == 200, _body(base + "/api/v1/me", headers)
        _until(lambda: _cache_hits(base) >= 20, "cache hits in both processes")
        lags = []
        for trial in range(TRIALS):
            if trial % 2 == 0:  # another process: the CLI-like path through SQLAlchemy
                with committed_db.transaction() as s:
                    s.execute(sa.text("UPDATE accounts SET status = 'disabled' WHERE id = :id"), {"id": account_id})
            else:
                sql = f"UPDATE accounts SET status = 'disabled' WHERE id = {account_id}"
                done = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d",
                                       committed_db.engine.url.database, "-c", sql],
                                      capture_output=True, text=True, check=False)
                assert done.returncode == 0, done.stderr
            lags.append(_time_to_refusal(base, headers, time.monotonic()))
            with committed_db.transaction() as s:
                s.execute(sa.text("UPDATE accounts SET status = 'active' WHERE id = :id"), {"id": account_id})
            _until(lambda: _get(base + "/api/v1/me", headers) == 200, "accepted again", timeout=5)
            for _ in range(10):
                _get(base + "/api/v1/me", headers)  # cached again in both processes
        assert max(lags) < DEADLINE, lags
        print(f"time to refusal over {TRIALS} trials: median {statistics.median(lags) * 1000:.1f} ms, "
              f"max {max(lags) * 1000:.1f} ms")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
