"""One JSON line per request, and no personal data in any log line."""
from __future__ import annotations

import io
import json
import logging

from app.logs import JsonFormatter, scrub


def capture_json_logs():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    return stream, handler


def test_one_json_line_per_request(client):
    stream, handler = capture_json_logs()
    try:
        client.get("/healthz?mobile=13912345678", headers={"X-Request-ID": "log-1"})
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line.get("logger") == "app.access"]
    assert len(access) == 1
    entry = access[0]
    assert entry["request_id"] == "log-1" and entry["method"] == "GET" and entry["path"] == "/healthz"
    assert entry["status"] == 200 and isinstance(entry["duration_ms"], float)
    assert "13912345678" not in stream.getvalue()


def test_scrub_removes_personal_data():
    text = ("phone 13912345678 id 31011619800101123X token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig "
            'password="hunter2" Authorization: Bearer abc')
    out = scrub(text)
    for secret in ("13912345678", "31011619800101123X", "eyJhbGciOiJIUzI1NiJ9", "hunter2"):
        assert secret not in out
    assert scrub("order 12345 at 2026-11-22") == "order 12345 at 2026-11-22"


def test_exception_logs_are_scrubbed(client):
    stream, handler = capture_json_logs()
    try:
        logging.getLogger("x").error("failed for 13800138000", exc_info=ValueError("13800138000"))
    finally:
        logging.getLogger().removeHandler(handler)
    assert "13800138000" not in stream.getvalue()
