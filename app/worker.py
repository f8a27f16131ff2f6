"""The worker: fires due timers and runs housekeeping jobs.

PostgreSQL (any number of workers on any number of machines): a batch transaction claims
due timers with ``SELECT … WHERE state = 'pending' AND due_at <= now ORDER BY due_at LIMIT n
FOR UPDATE SKIP LOCKED``, runs each handler in that same transaction inside a savepoint,
marks the timers fired and commits. A row stays locked until its batch commits, so each
timer fires exactly once; a worker that dies mid-batch rolls back and another one fires
those timers (the handler's work and the ``fired`` mark commit or vanish together).

SQLite ignores ``FOR UPDATE``, so there a worker first holds a lease row
(``worker_leases``), renewed by a compare-and-set in every batch transaction; only its
holder fires timers, a second worker stands by until the lease is released or expires.

A failing handler rolls back only its own savepoint: the timer's attempts grow and it is
retried later with exponential backoff, until ``max_attempts`` makes it ``failed``.

Kinds with a batch handler (``app.timers.batch_handler``: escalations) run all their timers
of the batch in one savepoint and a few set-based statements, at the place of the first of
them in the claim order. When the batch raises, its savepoint is rolled back and those
timers run one by one through the single handler, each in its own savepoint as above: the
failing one is retried later, the others fire in this batch.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
import traceback
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.clock import Clock
from app.db import Base, Database, UTCDateTime
from app.periodic import PERIODIC_JOBS, PeriodicJob, run_due_jobs
from app.timers import HANDLERS, LAST_ERROR_MAX, PENDING, REARMED_KEY, HandlerEntry, Timer

log = logging.getLogger("app.worker")

LEASE_NAME = "timers"


class WorkerLease(Base):
    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(120))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


def default_worker_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


def describe_error(exc: BaseException) -> str:
    """The exception's class and where it was raised: no message, so no personal data."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" at {_short_path(last.filename)}:{last.lineno}"
    return f"{type(exc).__name__}{where}"[:LAST_ERROR_MAX]


def error_fields(exc: BaseException) -> dict[str, str]:
    """Log fields for an error: its class and stack, never its message (which may carry data)."""
    return {"error": describe_error(exc), "stack": "".join(traceback.format_tb(exc.__traceback__))[-4000:]}


def _short_path(filename: str) -> str:
    path = Path(filename)
    try:
        return str(path.resolve().relative_to(Path(__file__).resolve().parent.parent))
    except ValueError:
        return path.name


class Worker:
    """Fires due timers from ``database``, reading time from ``clock``. Without a database it
    only fires timers a caller's transaction holds (``fire_claimed``)."""

    def __init__(
        self,
        database: Database | None,
        clock: Clock,
        *,
        batch_size: int = 100,
        tick_seconds: float = 1.0,
        worker_id: str | None = None,
        lease_seconds: float = 15.0,
        max_attempts: int = 8,
        backoff_base: timedelta = timedelta(seconds=10),
        backoff_max: timedelta = timedelta(hours=1),
        max_batches_per_pass: int = 100,
        handlers: dict[str, HandlerEntry] | None = None,
        periodic_jobs: dict[str, PeriodicJob] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not 0 < tick_seconds <= 1.0:
            raise ValueError("the worker ticks at least once a second: 0 < tick_seconds <= 1")
        if lease_seconds <= 2 * tick_seconds:
            raise ValueError("lease_seconds must exceed two ticks, or the holder loses it while idle")
        self.database = database
        self.clock = clock
        self.batch_size = batch_size
        self.tick_seconds = tick_seconds
        self.worker_id = worker_id or default_worker_id()
        self.lease_ttl = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_batches_per_pass = max_batches_per_pass
        self.handlers = HANDLERS if handlers is None else handlers
        self.periodic_jobs = PERIODIC_JOBS if periodic_jobs is None else periodic_jobs
        self.uses_lease = database is not None and database.dialect != "postgresql"
        self.holds_lease = False
        self.backlog = False
        self._stop = threading.Event()
        self._periodic_next: dict[str, datetime] = {}
        self._standby_logged = False

    # ------------------------------------------------------------ one pass

    def run_once(self) -> int:
        """Fire what is due, batch after batch while batches come back full; run due jobs.

        Returns the number of timers handled (fired, or retried/failed after an error).
        """
        total = 0
        self.backlog = False
        for _ in range(self.max_batches_per_pass):
            claimed = self._run_batch()
            if claimed is None:  # SQLite: another worker holds the lease
                return total
            total += claimed
            if claimed < self.batch_size:
                break
            if self._stop.is_set():  # finish the batch, not the backlog
                self.backlog = True
                break
        else:
            self.backlog = True
        if not self._stop.is_set():
            run_due_jobs(self.database, self.clock, self.worker_id, self._periodic_next, self.periodic_jobs)
        return total

    def _run_batch(self) -> int | None:
        with self.database.transaction() as session:
            now = self.clock.now()
            if self.uses_lease and not self._hold_lease(session, now):
                return None
            timers = session.scalars(
                sa.select(Timer)
                .where(Timer.state == PENDING, Timer.due_at <= now)
                .order_by(Timer.due_at)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            self.fire_claimed(session, list(timers), now)
            return len(timers)

    def fire_claimed(self, session: Session, timers: list[Timer], now: datetime) -> None:
        """Run the handlers of timers this transaction holds, in order (a kind with a batch
        handler at the place of its first timer), and mark those done fired."""
        fired: list[int] = []
        batched: set[str] = set()
        for timer in timers:
            entry = self.handlers.get(timer.kind)
            if entry is not None and entry.batch is not None:
                if timer.kind not in batched:
                    batched.add(timer.kind)
                    fired += self._fire_batch(session, entry, [t for t in timers if t.kind == timer.kind], now)
            elif self._fire(session, timer, now):
                fired.append(timer.id)
        if fired:
            session.execute(
                sa.update(Timer).where(Timer.id.in_(fired)).values(state="fired", fired_at=now),
                execution_options={"synchronize_session": False},
            )

    def _fire(self, session: Session, timer: Timer, now: datetime) -> bool:
        """Run the timer's handler in a savepoint. True when the timer is to be marked fired."""
        if timer.state != "pending" or timer.due_at > now:
            return False  # an earlier handler of this batch cancelled or moved it
        entry = self.handlers.get(timer.kind)
        if entry is None:
            timer.state = "failed"
            timer.attempts += 1
            timer.last_error = f"no handler registered for kind {timer.kind!r}"[:LAST_ERROR_MAX]
            log.error("timer has no handler", extra={"timer_id": timer.id, "kind": timer.kind})
            return False
        session.info[REARMED_KEY] = set()
        try:
            with session.begin_nested():
                entry.func(session, timer, self.clock)
        except Exception as exc:
            session.refresh(timer)  # drop what the rolled-back handler did to it in memory
            self._record_failure(timer, exc, now, entry.max_attempts or self.max_attempts)
            return False
        # The handler re-armed its own timer (schedule/reschedule with the same key).
        return timer.id not in session.info.get(REARMED_KEY, ())

    def _fire_batch(self, session: Session, entry: HandlerEntry, timers: list[Timer], now: datetime) -> list[int]:
        """Run the kind's batch handler in one savepoint; on error, each timer in its own.

        Returns the ids of the timers to mark fired.
        """
        live = [t for t in timers if t.state == "pending" and t.due_at <= now]
        if not live:
            return []
        session.info[REARMED_KEY] = set()
        try:
            with session.begin_nested():
                entry.batch(session, live, self.clock)  # type: ignore[misc]
        except Exception as exc:
            log.warning("batch handler failed; firing its timers one by one", extra={
                "kind": entry.kind, "timers": len(live), **error_fields(exc)})
            # Drop what the rolled-back batch did to them in memory (one query, not one per timer).
            session.scalars(sa.select(Timer).where(Timer.id.in_([t.id for t in live])),
                            execution_options={"populate_existing": True}).all()
            return [t.id for t in live if self._fire(session, t, now)]
        rearmed = session.info.get(REARMED_KEY, ())
        return [t.id for t in live if t.id not in rearmed]

    def _record_failure(self, timer: Timer, exc: Exception, now: datetime, max_attempts: int) -> None:
        timer.attempts += 1
        timer.last_error = describe_error(exc)
        if timer.attempts >= max_attempts:
            timer.state = "failed"
            log.error("timer failed for good", extra={
                "timer_id": timer.id, "kind": timer.kind, "attempts": timer.attempts, **error_fields(exc)})
            return
        delay = min(self.backoff_base * (2 ** (timer.attempts - 1)), self.backoff_max)
        timer.due_at = now + delay
        log.warning("timer handler failed; retrying", extra={
            "timer_id": timer.id, "kind": timer.kind, "attempts": timer.attempts,
            "retry_in_s": delay.total_seconds(), **error_fields(exc)})

    # ------------------------------------------------------------ the SQLite lease

    def _hold_lease(self, session: Session, now: datetime) -> bool:
        """Take or renew the lease with a compare-and-set, inside the batch transaction."""
        expires = now + self.lease_ttl
        taken = session.execute(
            sa.update(WorkerLease)
            .where(WorkerLease.name == LEASE_NAME,
                   sa.or_(WorkerLease.holder == self.worker_id, WorkerLease.expires_at <= now))
            .values(holder=self.worker_id, expires_at=expires),
            execution_options={"synchronize_session": False},
        ).rowcount == 1
        if not taken:
            current = session.get(WorkerLease, LEASE_NAME)
            if current is None:
                try:
                    with session.begin_nested():
                        session.add(WorkerLease(name=LEASE_NAME, holder=self.worker_id, expires_at=expires))
                    taken = True
                except IntegrityError:
                    taken = False
            if not taken:
                if not self._standby_logged:
                    holder = current.holder if current is not None else "another worker"
                    log.info("standing by: another worker holds the lease", extra={
                        "worker": self.worker_id, "holder": holder,
                        "until": current.expires_at.isoformat() if current is not None else None})
                    self._standby_logged = True
                self.holds_lease = False
                return False
        if not self.holds_lease:
            log.info("took the worker lease", extra={"worker": self.worker_id})
        self.holds_lease = True
        self._standby_logged = False
        return True

    def release_lease(self) -> None:
        """Let a standing-by worker take over at once instead of after the lease expires."""
        if not self.uses_lease or not self.holds_lease:
            return
        with self.database.transaction() as session:
            session.execute(
                sa.update(WorkerLease)
                .where(WorkerLease.name == LEASE_NAME, WorkerLease.holder == self.worker_id)
                .values(expires_at=self.clock.now()),
                execution_options={"synchronize_session": False},
            )
        self.holds_lease = False
        log.info("released the worker lease", extra={"worker": self.worker_id})

    # ------------------------------------------------------------ the loop

    def stop(self) -> None:
        self._stop.set()

    def run_forever(self, stop_event: threading.Event | None = None) -> None:
        """Tick until ``stop_event`` (or ``stop()``) is set; the current batch always finishes."""
        if stop_event is not None:
            self._stop = stop_event
        log.info("worker started", extra={
            "worker": self.worker_id, "dialect": self.database.dialect, "batch_size": self.batch_size})
        errors = 0
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    self.run_once()
                    errors = 0
                except OperationalError as exc:  # database down, locked or restarting
                    errors += 1
                    log.warning("worker pass failed; retrying", extra={
                        "worker": self.worker_id, "error": type(exc).__name__, "in_a_row": errors})
                except Exception as exc:
                    errors += 1
                    log.error("worker pass failed; retrying", extra={
                        "worker": self.worker_id, "in_a_row": errors, **error_fields(exc)})
                if errors:
                    self._stop.wait(min(self.tick_seconds * 2 ** errors, 30.0))
                elif not self.backlog:
                    self._stop.wait(max(0.0, self.tick_seconds - (time.monotonic() - started)))
        finally:
            try:
                self.release_lease()
            except Exception as exc:
                log.error("could not release the worker lease", extra={"worker": self.worker_id,
                                                                       **error_fields(exc)})
            log.info("worker stopped", extra={"worker": self.worker_id})


def fire_due(session: Session, clock: Clock, *, subject_type: str, subject_id: str | int) -> int:
    """Fire one subject's timers due by ``clock`` in ``session``, as a worker pass would have,
    through the worker's own code (demo data made at past times; tests). Returns how many ran."""
    now = clock.now()
    timers = list(session.scalars(
        sa.select(Timer)
        .where(Timer.subject_type == subject_type, Timer.subject_id == str(subject_id), Timer.state == PENDING,
               Timer.due_at <= now)
        .order_by(Timer.due_at, Timer.level)
        .with_for_update()))
    if timers:
        Worker(None, clock).fire_claimed(session, timers, now)
    session.flush()
    return len(timers)
