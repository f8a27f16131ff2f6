"""A database that cannot answer is a 503, never a 500; a read in autocommit is tried again.

When PostgreSQL restarts, a backend is terminated or the pool cannot hand out a connection,
the request answers 503 ``database_unavailable`` with ``Retry-After`` (the mini-program retries
with its ``Idempotency-Key``), and the error is logged as a warning without a traceback. A
read request (GET without ``@writes``, autocommit on PostgreSQL) whose connection died is run
once more from the start on a fresh connection: each of its statements stood alone, so
running it again changes nothing. A write that failed is not retried here: its transaction
rolled back, and the client's retry (same key) decides.
"""
from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, g, request

from app.errors import ApiError

log = logging.getLogger("app.db")

RETRY_AFTER_SECONDS = 2
UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError, sa.exc.TimeoutError)


class RetryRead(Exception):
    """Raised by the handler to have ``RetryingFlask`` run a failed read once more."""


_SQLITE_BUSY = ("database is locked", "database is busy", "unable to open database", "disk i/o error")


def is_unavailable(exc: BaseException) -> bool:
    """The database could not answer (down, restarting, a dead connection, no connection to be
    had, SQLite busy) — as opposed to a statement it refused (a bug: a 500)."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa.exc.OperationalError) and type(exc.orig).__module__.startswith("sqlite3"):
        return any(words in str(exc.orig).lower() for words in _SQLITE_BUSY)
    return isinstance(exc, UNAVAILABLE)


def _retryable() -> bool:
    from app.db import _request_writes, _view_target, get_db

    try:
        target = _view_target()
    except Exception:  # no view matched: nothing to run again
        return False
    return (get_db().dialect == "postgresql" and not _request_writes(target) and not g.get("db_retried"))


def handle(exc: Exception) -> Response:
    """The error handler of ``UNAVAILABLE`` (and invalidated connections)."""
    from app.api import error_response, unhandled

    if not is_unavailable(exc):
        return unhandled(exc)
    if _retryable():
        g.db_retried = True
        raise RetryRead from exc
    log.warning("database unavailable", extra={"error": type(exc).__name__, "path": request.path,
                                               "retried": bool(g.get("db_retried"))})
    return error_response(ApiError("database_unavailable", headers={"Retry-After": str(RETRY_AFTER_SECONDS)}))


class RetryingFlask(Flask):
    """Flask that runs a read request once more when its database connection died."""

    def full_dispatch_request(self) -> Response:
        try:
            return super().full_dispatch_request()
        except RetryRead:
            from app.db import close_session

            close_session()  # its connection is dead: the next statement takes a fresh one
            log.info("read retried on a fresh connection", extra={"path": request.path})
            return super().full_dispatch_request()


def install(app: Flask) -> None:
    for exc_type in UNAVAILABLE:
        app.register_error_handler(exc_type, handle)


__all__: list[Any] = ["RetryingFlask", "handle", "install", "is_unavailable"]
