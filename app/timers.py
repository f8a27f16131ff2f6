"""One generic table of timers for every engine, and the registry of their handlers.

A timer belongs to a subject (``subject_type``, ``subject_id``), has a ``kind`` and a
``level`` (escalation levels of one deadline), and is unique per (subject, kind, level):
scheduling the same key again moves the existing row instead of adding one, so a timer
is created in the caller's transaction, next to its subject, and can never be duplicated.

States: ``pending`` → ``fired`` (its handler ran and committed), ``cancelled``, or
``failed`` (the handler kept raising, or no handler is registered for its kind).
Scheduling a key whose timer has fired, failed or been cancelled re-arms that row.

Handlers are registered per kind and run by the worker (app/worker.py) in the same
transaction that claims the timer: ``handler(session, timer, clock)``. A handler may
re-arm its own timer by calling ``schedule`` with the same key; the worker then leaves it
pending at its new time instead of marking it fired. Handlers never commit (the worker
does, per batch) and must be idempotent only towards the outside world: inside the database
their work and the ``fired`` mark commit together or not at all.

A kind may also register a *batch* handler (``batch_handler``): ``batch(session, timers,
clock)`` does for all the claimed timers of its kind what the single handler would do for
each in turn, in a few set-based statements instead of a few per timer. The worker runs it
in one savepoint; when it raises, that savepoint is rolled back and the timers go through
the single handler one by one, each in its own savepoint, so one bad timer still fails
alone. A batch handler may therefore run and be rolled back before the single handler runs:
like every handler it must not reach the outside world (sending is the outbox's job).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.clock import Clock
from app.db import Base, IdMixin, UTCDateTime, utcnow

STATES = ("pending", "fired", "cancelled", "failed")
PENDING = sa.literal_column("'pending'")
"""A literal, not a bound parameter: the planner must see ``state = 'pending'`` to use the
partial index (a generic plan of a prepared statement would not)."""

KEY_COLUMNS = ("subject_type", "subject_id", "kind", "level")
LAST_ERROR_MAX = 300
REARMED_KEY = "timers_rearmed"


class Timer(IdMixin, Base):
    __tablename__ = "timers"
    __table_args__ = (
        sa.UniqueConstraint(*KEY_COLUMNS),
        sa.CheckConstraint(
            "state IN ('pending', 'fired', 'cancelled', 'failed')", name="state_known"
        ),
        sa.CheckConstraint("attempts >= 0 AND level >= 0", name="counts_not_negative"),
        # The worker's claim query reads only this index: its cost follows the due timers.
        sa.Index(
            "ix_timers_due_pending",
            "due_at",
            postgresql_where=sa.text("state = 'pending'"),
            sqlite_where=sa.text("state = 'pending'"),
        ),
        # Small (failures are rare): lets worker health count them without a scan.
        sa.Index(
            "ix_timers_failed",
            "due_at",
            postgresql_where=sa.text("state = 'failed'"),
            sqlite_where=sa.text("state = 'failed'"),
        ),
    )

    subject_type: Mapped[str] = mapped_column(sa.String(60))
    subject_id: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(80))
    level: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(sa.String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.String(LAST_ERROR_MAX))
    payload: Mapped[Any | None] = mapped_column(sa.JSON(none_as_null=True))
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return (f"<Timer {self.id} {self.kind}/{self.level} {self.subject_type}:{self.subject_id} "
                f"{self.state} due {self.due_at:%Y-%m-%dT%H:%M:%S}>")


# ---------------------------------------------------------------- handlers

Handler = Callable[[Session, Timer, Clock], None]
BatchHandler = Callable[[Session, list[Timer], Clock], None]


@dataclass(frozen=True)
class HandlerEntry:
    kind: str
    func: Handler
    max_attempts: int | None = None
    batch: BatchHandler | None = None


HANDLERS: dict[str, HandlerEntry] = {}


def timer_handler(kind: str, *, max_attempts: int | None = None) -> Callable[[Handler], Handler]:
    """Register ``handler(session, timer, clock)`` for timers of ``kind``.

    ``max_attempts`` overrides the worker's default number of tries before ``failed``.
    """

    def register(func: Handler) -> Handler:
        existing = HANDLERS.get(kind)
        if existing is not None and _qualname(existing.func) != _qualname(func):
            raise ValueError(f"timer kind {kind!r} already has a handler: {_qualname(existing.func)}")
        batch = existing.batch if existing is not None else None
        HANDLERS[kind] = HandlerEntry(kind, func, max_attempts, batch)
        return func

    return register


def batch_handler(kind: str) -> Callable[[BatchHandler], BatchHandler]:
    """Register ``batch(session, timers, clock)`` for the timers of ``kind`` claimed together.

    The kind's single handler (``timer_handler``) must be registered first: the worker falls
    back to it, timer by timer, when the batch raises. ``timers`` are pending, due, in the
    order claimed (soonest first); the batch must leave the database as running the single
    handler on each in that order would.
    """

    def register(func: BatchHandler) -> BatchHandler:
        existing = HANDLERS.get(kind)
        if existing is None:
            raise ValueError(f"timer kind {kind!r} needs its single handler before a batch handler")
        if existing.batch is not None and _qualname(existing.batch) != _qualname(func):
            raise ValueError(f"timer kind {kind!r} already has a batch handler: {_qualname(existing.batch)}")
        HANDLERS[kind] = replace(existing, batch=func)
        return func

    return register


def handler_for(kind: str) -> HandlerEntry | None:
    return HANDLERS.get(kind)


def _qualname(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


# ---------------------------------------------------------------- services


def _check_key(subject_type: str, subject_id: str | int, kind: str, level: int) -> str:
    if not subject_type or not kind:
        raise ValueError("a timer needs a subject_type and a kind")
    if level < 0:
        raise ValueError("a timer's level is 0 or more")
    return str(subject_id)


def _insert_for(session: Session) -> Any:
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(Timer)


def schedule(
    session: Session,
    *,
    subject_type: str,
    subject_id: str | int,
    kind: str,
    due_at: datetime,
    level: int = 0,
    payload: Any | None = None,
) -> Timer:
    """Arm the timer of (subject, kind, level) to fire at ``due_at``, in the caller's transaction.

    A pending timer with that key is moved; one that fired, failed or was cancelled is
    re-armed (attempts and error cleared). ``payload`` replaces the stored one when given.
    One atomic upsert, so two transactions scheduling the same key cannot both insert.
    """
    sid = _check_key(subject_type, subject_id, kind, level)
    if due_at.tzinfo is None:
        raise ValueError("due_at must be an aware datetime")
    stmt = _insert_for(session).values(
        subject_type=subject_type, subject_id=sid, kind=kind, level=level, due_at=due_at,
        state="pending", attempts=0, payload=payload, created_at=utcnow(),
    )
    changes: dict[str, Any] = {
        "due_at": stmt.excluded.due_at,
        "state": "pending",
        "attempts": 0,
        "last_error": None,
        "fired_at": None,
    }
    if payload is not None:
        changes["payload"] = stmt.excluded.payload
    stmt = stmt.on_conflict_do_update(index_elements=list(KEY_COLUMNS), set_=changes).returning(Timer)
    timer = session.scalars(stmt, execution_options={"populate_existing": True}).one()
    session.info.setdefault(REARMED_KEY, set()).add(timer.id)
    return timer


@cache
def _upsert_many(dialect: str) -> Any:
    """The upsert ``schedule_many`` runs, built once per dialect (a hot path of filing)."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Timer.__table__)
    return insert.on_conflict_do_update(index_elements=list(KEY_COLUMNS), set_={
        "due_at": insert.excluded.due_at, "state": "pending", "attempts": 0, "last_error": None, "fired_at": None})


def schedule_many(session: Session, *, subject_type: str, subject_id: str | int,
                  timers: list[tuple[str, int, datetime]]) -> None:
    """``schedule`` for several (kind, level, due) of one subject in one statement: the same
    upsert (a pending timer moves, one that fired or was cancelled is re-armed), one round
    trip. Unlike ``schedule`` it returns nothing and does not tell the worker that a running
    handler re-armed its own timer: for subjects' changes, not for handlers."""
    if not timers:
        return
    now = utcnow()
    rows = [{"subject_type": subject_type, "subject_id": _check_key(subject_type, subject_id, kind, level),
             "kind": kind, "level": level, "due_at": due, "state": "pending", "attempts": 0, "created_at": now}
            for kind, level, due in timers]
    session.execute(_upsert_many(session.get_bind().dialect.name), rows)


def _key_filter(subject_type: str, subject_id: str | int, kind: str | None, level: int | None) -> list[Any]:
    conds: list[Any] = [Timer.subject_type == subject_type, Timer.subject_id == str(subject_id)]
    if kind is not None:
        conds.append(Timer.kind == kind)
    if level is not None:
        conds.append(Timer.level == level)
    return conds


def cancel(
    session: Session,
    *,
    subject_type: str,
    subject_id: str | int,
    kind: str | None = None,
    level: int | None = None,
) -> int:
    """Cancel the subject's pending timers (of one kind, of one level). Returns how many.

    On PostgreSQL a timer the worker is firing right now is locked: this waits for that
    transaction, then finds it fired and leaves it (the count tells the caller).
    """
    stmt = (
        sa.update(Timer)
        .where(*_key_filter(subject_type, subject_id, kind, level), Timer.state == PENDING)
        .values(state="cancelled")
    )
    result = session.execute(stmt, execution_options={"synchronize_session": "fetch"})
    return result.rowcount or 0


def reschedule(
    session: Session,
    *,
    subject_type: str,
    subject_id: str | int,
    kind: str,
    due_at: datetime,
    level: int = 0,
) -> Timer | None:
    """Move a pending timer to ``due_at``; None when there is no pending one (nothing is created)."""
    if due_at.tzinfo is None:
        raise ValueError("due_at must be an aware datetime")
    stmt = (
        sa.update(Timer)
        .where(*_key_filter(subject_type, subject_id, kind, level), Timer.state == PENDING)
        .values(due_at=due_at)
        .returning(Timer)
    )
    timer = session.scalars(stmt, execution_options={"populate_existing": True}).one_or_none()
    if timer is not None:
        session.info.setdefault(REARMED_KEY, set()).add(timer.id)
    return timer


def pending_for(
    session: Session,
    *,
    subject_type: str,
    subject_id: str | int,
    kind: str | None = None,
) -> list[Timer]:
    """The subject's pending timers (of one kind), soonest first."""
    stmt = (
        sa.select(Timer)
        .where(*_key_filter(subject_type, subject_id, kind, None), Timer.state == PENDING)
        .order_by(Timer.due_at, Timer.kind, Timer.level)
    )
    return list(session.scalars(stmt))
