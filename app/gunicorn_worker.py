"""gunicorn's workers (sync and gthread), answering what they refuse themselves in our JSON error body.

gunicorn rejects some requests before Flask sees them: a request line over
``limit_request_line`` (414), a header over ``limit_request_field_size`` or more than
``limit_request_fields`` headers (431), a request line or header it cannot parse (400). Its
answer is a small HTML page; ours is ``{code, message, request_id}`` with ``X-Request-ID``,
like every other error. gunicorn's limits stay as they are: they bound what a worker reads.

``gunicorn.conf.py`` at the repository root names this worker (the sync one, or the threaded
one when ``WEB_THREADS`` > 1), so ``gunicorn wsgi:app`` run from there (``make run``, the
benchmarks, a deployment) uses it.
"""
from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

from app.api import HTTP_STATUS_CODES
from app.errors import message_for

log = logging.getLogger("app.errors")



def error_body(status: int, request_id: str) -> dict[str, Any]:
    """Our error body for a status gunicorn answers itself (Chinese: no header could be read)."""
    code = HTTP_STATUS_CODES.get(status) or ("internal_error" if status >= 500 else "bad_request")
    return {"code": code, "message": message_for(code), "request_id": request_id}


def write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """Drop-in for ``gunicorn.util.write_error``: the same status line, our JSON body."""
    request_id = uuid.uuid4().hex
    body = json.dumps(error_body(status_int, request_id), ensure_ascii=False).encode()
    log.warning("refused before the application", extra={"request_id": request_id, "status": status_int})
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"X-Request-ID: {request_id}\r\nX-Content-Type-Options: nosniff\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


class _JsonErrors:
    """gunicorn writes its own error answers through ``gunicorn.util.write_error`` (only from
    ``Worker.handle_error``); a worker process exists to serve, so ours replaces it for the
    process's life, set before the worker's loop starts (no swap per error: threads of a
    ``gthread`` worker handle errors at once). gunicorn's logging and statuses are untouched."""

    def init_process(self) -> None:
        util.write_error = write_json_error
        super().init_process()  # type: ignore[misc]


class JsonErrorsWorker(_JsonErrors, SyncWorker):
    """The sync worker (one request at a time per process: ``WEB_THREADS`` unset or 1)."""


class JsonErrorsThreadWorker(_JsonErrors, ThreadWorker):
    """The ``gthread`` worker (``WEB_THREADS`` > 1): a process serves that many requests at
    once, so one waiting on PostgreSQL or Redis no longer holds the process's CPU idle."""
