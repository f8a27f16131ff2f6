"""``Idempotency-Key`` for POSTs: mini-programs retry on weak networks.

A first request claims (scope, key) in its own committed transaction; the response is
stored once the view is done. A retry with the same payload replays the stored status and
body; one that arrives while the first still runs gets 409; the same key with another
payload 422. Keys are scoped per caller and kept ``IDEMPOTENCY_TTL_HOURS`` (24 by default).

A process may die between the view's commit and the stored answer. So the view's own
transaction marks the claim ``committed`` as it commits: a claim still ``in_progress`` after
``STALE_AFTER`` did nothing that lasted and is taken over (the request runs again), while a
``committed`` one whose answer never came is answered 409 ``idempotency_answer_lost`` — never
run twice (a second ticket). A 5xx answer is never stored for replay: its claim is released,
unless the work had committed.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, g, request
from flask_smorest.utils import deepupdate
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.api import error_response
from app.db import Base, IdMixin, UTCDateTime, close_session, get_db, get_session
from app.errors import ApiError, field_error

HEADER = "Idempotency-Key"
_KEY_RE = re.compile(r"^[\x21-\x7e]{8,128}$")
STALE_AFTER = timedelta(minutes=2)


class IdempotencyRecord(IdMixin, Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("scope", "key"),)

    scope: Mapped[str] = mapped_column(sa.String(120))
    key: Mapped[str] = mapped_column(sa.String(128))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16))  # in_progress | committed | done
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    content_type: Mapped[str | None] = mapped_column(sa.String(100))
    body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def caller_scope() -> str:
    """The caller's identity for scoping keys: the principal when known, else the address."""
    principal = g.get("principal")
    if principal is not None:
        return f"p:{principal.scope_key}"
    return f"ip:{request.remote_addr or '-'}"


def _ttl() -> timedelta:
    hours = float(current_app.extensions["settings"].get("IDEMPOTENCY_TTL_HOURS", "24") or 24)
    return timedelta(hours=max(hours, 24.0))


def _request_hash() -> str:
    h = hashlib.sha256()
    h.update(request.method.encode())
    h.update(b"\0" + request.path.encode() + b"\0")
    h.update(request.get_data(cache=True))
    return h.hexdigest()


def _claim(scope: str, key: str, digest: str, now: datetime) -> IdempotencyRecord | None:
    """Claim the key, or return the record that already holds it."""
    db = get_db()
    for _ in range(3):
        try:
            with db.transaction() as s:
                s.add(IdempotencyRecord(scope=scope, key=key, request_hash=digest, state="in_progress",
                                        created_at=now, expires_at=now + _ttl()))
            return None
        except IntegrityError:
            pass
        with db.transaction() as s:
            rec = s.scalar(sa.select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key))
            if rec is None:
                continue
            expired = rec.expires_at <= now
            stale = rec.state == "in_progress" and rec.created_at <= now - STALE_AFTER
            if rec.state == "committed" and rec.created_at <= now - STALE_AFTER and not expired:
                raise ApiError("idempotency_answer_lost")
            if expired or (stale and rec.request_hash == digest):
                # Compare-and-set on the old row, so two takers cannot both win.
                taken = s.execute(sa.update(IdempotencyRecord).where(
                    IdempotencyRecord.id == rec.id, IdempotencyRecord.created_at == rec.created_at,
                ).values(request_hash=digest, state="in_progress", status_code=None, body=None,
                         created_at=now, expires_at=now + _ttl())).rowcount
                if taken == 1:
                    return None
                continue
            s.expunge(rec)
            return rec
    raise ApiError("idempotency_in_progress")


def _store(scope: str, key: str, resp: Response) -> None:
    with get_db().transaction() as s:
        if resp.status_code >= 500:  # never replayed; the claim is released unless the work committed
            s.execute(sa.delete(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key,
                IdempotencyRecord.state == "in_progress"))
            return
        s.execute(sa.update(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key,
        ).values(state="done", status_code=resp.status_code, content_type=resp.content_type,
                 body=resp.get_data()))


def _end_request_transaction() -> None:
    """End the request session's transaction before the claim, which runs on another
    connection. Authentication read through the request's session; on SQLite a write session
    took the database's write lock (``BEGIN IMMEDIATE``) with that first read, and the claim
    would wait for it until the busy timeout (a 500). Nothing in it is to be kept."""
    session = g.get("db_session")
    if session is not None and session.in_transaction() and session.get_bind().dialect.name == "sqlite":
        session.rollback()


def _mark_committed_with_the_work(scope: str, key: str) -> None:
    """In the request session's transaction, as it commits: the claim is ``committed``."""
    session = get_session()

    def mark(committing: Session) -> None:
        committing.execute(sa.update(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key,
            IdempotencyRecord.state == "in_progress").values(state="committed"))

    sa.event.listen(session, "before_commit", mark)


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a POST view (outermost, above the flask-smorest decorators)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not _KEY_RE.match(key):
            raise field_error("validation_error", HEADER, "幂等键须为 8–128 个可见 ASCII 字符。")
        scope, digest = caller_scope(), _request_hash()
        now = current_app.extensions["clock"].now()
        _end_request_transaction()
        existing = _claim(scope, key, digest, now)
        if existing is not None:
            if existing.request_hash != digest:
                raise ApiError("idempotency_key_reused", errors={HEADER: ["与首次请求的内容不同。"]})
            if existing.state != "done":
                raise ApiError("idempotency_in_progress")
            replay = Response(existing.body, status=existing.status_code, content_type=existing.content_type)
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        _mark_committed_with_the_work(scope, key)
        try:
            resp = current_app.make_response(view(*args, **kwargs))
        except ApiError as err:
            resp = error_response(err)
        except BaseException:
            close_session()
            _store(scope, key, Response(status=500))
            raise
        # The view is done with the request's session: end it before storing the answer, so
        # nothing it still holds (a transaction begun by a read after commit) can outlive it.
        close_session()
        _store(scope, key, resp)
        return resp

    wrapper._apidoc = deepupdate(dict(getattr(wrapper, "_apidoc", {})), {"manual_doc": {"parameters": [{
        "in": "header", "name": HEADER, "required": False,
        "schema": {"type": "string", "minLength": 8, "maxLength": 128},
        "description": "Retry-safe key: a retry replays the first answer; kept 24 h, per caller.",
    }]}})
    return wrapper
