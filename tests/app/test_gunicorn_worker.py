"""What gunicorn refuses before Flask (an over-long URL or header, too many headers, a request
line it cannot parse) is answered in our JSON error body with a request id, by a real gunicorn
started from the repository root (so ``gunicorn.conf.py`` is what names the worker): with the sync
worker (``WEB_THREADS`` unset) and the threaded one (``WEB_THREADS=4``), which also serves two
requests of one process at once."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.errors import ERRORS

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as is; the status, headers and body of the answer (read to the close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


GUNICORN = str(Path(sys.executable).parent / "gunicorn")


@pytest.fixture(scope="module", params=["", "4"], ids=["sync", "gthread"])
def served(request, tmp_path_factory) -> Iterator[tuple[int, Path]]:
    """(port, log) of a one-process gunicorn, ``WEB_THREADS`` as the parameter."""
    port = _free_port()
    tmp = tmp_path_factory.mktemp("gunicorn")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'g.db'}", "APP_ENV": "development",
           "LOG_LEVEL": "WARNING", "PROMETHEUS_MULTIPROC_DIR": str(tmp), "WEB_THREADS": request.param}
    log = tmp / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "1", "--log-level", "info",
                                 "--no-control-socket", "wsgi:app"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield port, log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def gunicorn(served) -> int:
    return served[0]


def assert_ours(status: int, headers: dict[str, str], body: bytes, expected: int, code: str) -> None:
    assert status == expected, (status, body[:200])
    assert headers["content-type"].startswith("application/json")
    data = json.loads(body)
    assert data["code"] == code and code in ERRORS and ERRORS[code].status == expected
    assert data["message"] == ERRORS[code].zh
    assert len(data["request_id"]) == 32 and headers["x-request-id"] == data["request_id"]


def test_an_over_long_url_is_our_414(gunicorn):
    path = "/api/v1/city-report/hotspots?q=" + "a" * 5000
    assert_ours(*raw(gunicorn, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()), 414, "uri_too_long")


def test_an_over_long_header_is_our_431(gunicorn):
    request = f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {'b' * 9000}\r\n\r\n".encode()
    assert_ours(*raw(gunicorn, request), 431, "headers_too_large")


def test_too_many_headers_is_our_431(gunicorn):
    many = "".join(f"X-H{i}: v\r\n" for i in range(150))
    assert_ours(*raw(gunicorn, f"GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n".encode()), 431, "headers_too_large")


def test_a_request_line_gunicorn_cannot_parse_is_our_400(gunicorn):
    assert_ours(*raw(gunicorn, b"GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n"), 400, "bad_request")


def test_each_refusal_has_its_own_request_id_and_the_app_still_answers(gunicorn):
    ids = {json.loads(raw(gunicorn, f"GET /{'a' * 5000} HTTP/1.1\r\nHost: x\r\n\r\n".encode())[2])["request_id"]
           for _ in range(3)}
    assert len(ids) == 3
    status, _headers, body = raw(gunicorn, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200, body


def test_web_threads_names_the_worker_and_the_threads_serve_at_once(served, request):
    """``WEB_THREADS`` picks our threaded worker, and under it a client slow to send its headers
    does not hold the process: a second request is answered meanwhile. (The sync worker, one
    request at a time, would wait for the slow one: gunicorn's design, not tried here.)"""
    port, log = served
    text = log.read_text()
    threaded = request.node.callspec.params["served"] == "4"
    expected = "JsonErrorsThreadWorker" if threaded else "JsonErrorsWorker"
    assert f"Using worker: app.gunicorn_worker.{expected}\n" in text, text
    if not threaded:
        return
    with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the headers never end: a thread waits
        time.sleep(0.3)
        started = time.monotonic()
        status = raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0]
        assert status == 200 and time.monotonic() - started < 5.0


def test_a_bad_web_threads_stops_gunicorn_with_a_clear_message(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}", "APP_ENV": "development",
           "WEB_THREADS": "four", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run([GUNICORN, "--bind", f"127.0.0.1:{_free_port()}", "--no-control-socket", "wsgi:app"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "WEB_THREADS must be a whole number from 1 to 64, not 'four'" in done.stdout + done.stderr
