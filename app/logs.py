"""JSON log lines, one per request, with personal data scrubbed from every line; the same hook
counts the request for ``/metrics`` (``app.metrics``).

Only the path is logged, never the query string or bodies; a final filter redacts anything
shaped like a mobile number, a resident ID number, a JWT or a bearer secret.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from flask import Flask, Response, g, request

from app.metrics import observe_request
from app.request_context import request_id

_JWT = (re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*"), "[token]")
_NUMBERS = [
    (re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"), "[id-number]"),
    (re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"), "[mobile]"),
]
_SECRET = (re.compile(r"(?i)(password|secret|token|authorization)([\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"),
           r"\1\2[redacted]")
_REDACTIONS = [_JWT, *_NUMBERS, _SECRET]
_ELEVEN_DIGITS = re.compile(r"\d{11}")
_SECRET_WORDS = ("password", "secret", "token", "authorization")


def scrub(text: str) -> str:
    """Every redaction of ``_REDACTIONS``; the costly ones only when a cheap test says they could
    match (an ID number or a mobile holds eleven digits in a row; a secret follows its word)."""
    text = _JWT[0].sub(_JWT[1], text)
    if _ELEVEN_DIGITS.search(text):
        for pattern, repl in _NUMBERS:
            text = pattern.sub(repl, text)
    lowered = text.lower()
    if any(word in lowered for word in _SECRET_WORDS):
        text = _SECRET[0].sub(_SECRET[1], text)
    return text


class JsonFormatter(logging.Formatter):
    RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")

    def _timestamp(self, record: logging.LogRecord) -> str:
        """The record's second, formatted once per second (a request line's share was noticeable)."""
        second = int(record.created)
        if self._second[0] != second:
            self._second = (second, self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"))
        return self._second[1]

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self.RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return scrub(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.handlers[:] = [handler]
    root.setLevel(level)
    if level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)


access_log = logging.getLogger("app.access")


def install_request_logging(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        request_id()  # decided once, kept on g

    @app.after_request
    def _finish(resp: Response) -> Response:
        rid = g.get("request_id") or request_id()
        resp.headers["X-Request-ID"] = rid
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        rule = request.url_rule
        observe_request(rule.rule if rule is not None else "unmatched", request.method, resp.status_code, seconds)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info("request", extra={
                "request_id": rid, "method": request.method, "path": request.path, "status": resp.status_code,
                "duration_ms": round(seconds * 1000, 2)})
        return resp
