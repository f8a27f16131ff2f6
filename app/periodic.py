"""Housekeeping jobs the worker runs every so often, at most once per interval across workers.

Each job has a row (``periodic_jobs``) with the time of its last run; a worker runs a job
only after winning a compare-and-set on that row (``UPDATE … WHERE last_run_at <= now -
every``), committed before the job starts. So with any number of workers a job runs at
most once per interval; a worker that dies mid-job leaves it for the next interval.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.clock import Clock
from app.db import Base, Database, UTCDateTime

log = logging.getLogger("app.worker")

Job = Callable[[Session, Clock], object]


class PeriodicJobRun(Base):
    __tablename__ = "periodic_jobs"

    name: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    last_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    holder: Mapped[str] = mapped_column(sa.String(120))


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    func: Job


PERIODIC_JOBS: dict[str, PeriodicJob] = {}


def periodic(name: str, *, every: timedelta) -> Callable[[Job], Job]:
    """Register ``job(session, clock)`` to run every ``every`` (at most once per interval)."""
    if every <= timedelta(0):
        raise ValueError("a periodic job needs a positive interval")

    def register(func: Job) -> Job:
        existing = PERIODIC_JOBS.get(name)
        if existing is not None and existing.func.__qualname__ != func.__qualname__:
            raise ValueError(f"periodic job {name!r} is already registered")
        PERIODIC_JOBS[name] = PeriodicJob(name, every, func)
        return func

    return register


def claim_run(database: Database, job: PeriodicJob, now: datetime, holder: str) -> tuple[bool, datetime]:
    """Compare-and-set the job's row. Returns (won, when the job is next due)."""
    with database.transaction() as s:
        won = s.execute(
            sa.update(PeriodicJobRun)
            .where(PeriodicJobRun.name == job.name, PeriodicJobRun.last_run_at <= now - job.every)
            .values(last_run_at=now, holder=holder),
            execution_options={"synchronize_session": False},
        ).rowcount == 1
        if won:
            return True, now + job.every
        last = s.scalar(sa.select(PeriodicJobRun.last_run_at).where(PeriodicJobRun.name == job.name))
        if last is not None:
            return False, last + job.every
        try:
            with s.begin_nested():
                s.add(PeriodicJobRun(name=job.name, last_run_at=now, holder=holder))
        except IntegrityError:  # another worker inserted it first: it runs the job
            return False, now + job.every
        return True, now + job.every


def run_due_jobs(
    database: Database,
    clock: Clock,
    holder: str,
    next_due: dict[str, datetime],
    jobs: dict[str, PeriodicJob] | None = None,
) -> list[str]:
    """Run the jobs whose interval has passed; ``next_due`` caches when to look again.

    The cache keeps a worker's idle tick free of queries: the table is read only when a
    job may be due. Returns the names of the jobs this worker ran.
    """
    ran: list[str] = []
    for job in (PERIODIC_JOBS if jobs is None else jobs).values():
        now = clock.now()
        if job.name in next_due and now < next_due[job.name]:
            continue
        won, next_due[job.name] = claim_run(database, job, now, holder)
        if not won:
            continue
        try:
            with database.transaction() as s:
                result = job.func(s, clock)
            log.info("periodic job done", extra={"job": job.name, "result": result})
            ran.append(job.name)
        except Exception as exc:
            from app.worker import error_fields

            log.error("periodic job failed", extra={"job": job.name, **error_fields(exc)})
    return ran


# ---------------------------------------------------------------- the platform's jobs

PURGE_CHUNK = 5000
PURGE_MAX_PER_RUN = 100_000
TIMER_RETENTION = timedelta(days=7)


def _purge(session: Session, table: sa.Table, condition: sa.ColumnElement[bool]) -> int:
    """Delete matching rows in chunks (PostgreSQL has no DELETE … LIMIT)."""
    deleted = 0
    while deleted < PURGE_MAX_PER_RUN:
        ids = sa.select(table.c.id).where(condition).limit(PURGE_CHUNK).scalar_subquery()
        n = session.execute(sa.delete(table).where(table.c.id.in_(ids))).rowcount or 0
        deleted += n
        if n < PURGE_CHUNK:
            break
    return deleted


@periodic("purge_idempotency_keys", every=timedelta(minutes=10))
def purge_idempotency_keys(session: Session, clock: Clock) -> int:
    """Idempotency keys past their ``expires_at`` (kept at least 24 h) are deleted."""
    from app.idempotency import IdempotencyRecord

    table = IdempotencyRecord.__table__
    return _purge(session, table, table.c.expires_at <= clock.now())


@periodic("purge_old_timers", every=timedelta(hours=1))
def purge_old_timers(session: Session, clock: Clock) -> int:
    """Fired and cancelled timers are kept a week, then deleted, so the table stays small.

    Failed timers stay until someone looks at them (worker health counts them).
    """
    from app.timers import Timer

    table = Timer.__table__
    cutoff = clock.now() - TIMER_RETENTION
    return _purge(session, table, sa.and_(
        table.c.state.in_(("fired", "cancelled")),
        sa.func.coalesce(table.c.fired_at, table.c.due_at) <= cutoff,
    ))
