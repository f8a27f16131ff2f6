"""gunicorn's sync worker, answering what it refuses itself in our JSON error body.

gunicorn rejects some requests before Flask sees them: a request line over
``limit_request_line`` (414), a header over ``limit_request_field_size`` or more than
``limit_request_fields`` headers (431), a request line or header it cannot parse (400). Its
answer is a small HTML page; ours is ``{code, message, request_id}`` with ``X-Request-ID``,
like every other error. gunicorn's limits stay as they are: they bound what a worker reads.

``gunicorn.conf.py`` at the repository root names this worker, so ``gunicorn wsgi:app`` run
from there (``make run``, the benchmarks, a deployment) uses it.
"""
from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from gunicorn import util
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


class JsonErrorsWorker(SyncWorker):
    """A sync worker whose own error answers are JSON (gunicorn's logging and status untouched).

    gunicorn writes them through ``gunicorn.util.write_error``; it is swapped for ours only
    while ``handle_error`` runs (a sync worker handles one request at a time).
    """

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        original = util.write_error
        util.write_error = write_json_error
        try:
            super().handle_error(req, client, addr, exc)
        finally:
            util.write_error = original
