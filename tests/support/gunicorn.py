"""A real gunicorn (several worker processes, threads) serving the app on a committed test
database, for races through real HTTP (``serve``; the ``gunicorn`` fixture); and a small JSON client for it."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(database_url: str, log_path: Path, *, app: str = "wsgi:app", workers: int = 3,
          threads: int = 4) -> Iterator[str]:
    """Start gunicorn on ``database_url``, wait for ``/healthz``, yield its base URL, stop it."""
    port = free_port()
    env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING",
           "RATELIMIT_ENABLED": "0", "WEB_THREADS": str(threads)}  # gunicorn.conf.py: our threaded worker
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--no-control-socket", app],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # a loaded machine (xdist beside it) can take long to fork and import
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):  # noqa: S310 (ours)
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def gunicorn(committed_db, tmp_path) -> Iterator[str]:
    """The app in gunicorn (3 workers × 4 threads) on the test's committed database: its base URL
    (a fixture of the whole tree: ``tests/conftest.py`` lists this module in ``pytest_plugins``)."""
    with serve(committed_db.engine.url.render_as_string(hide_password=False), tmp_path / "gunicorn.log") as base:
        yield base


def post_json(url: str, body: dict, headers: dict[str, str]) -> tuple[int, dict]:
    """POST ``body``; (status, the answer's JSON)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",  # noqa: S310 (ours)
                                     headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
