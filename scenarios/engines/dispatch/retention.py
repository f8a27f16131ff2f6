"""Retention of position history, and answers to identity events.

- ``purge_dispatch_positions`` (periodic, every 10 minutes): history older than the longest
  retention of the installed scenarios' (``position_retention``; 7 days by default) is deleted,
  and so is the point of a job that ended longer ago than that (an SOS alarm's is a home; the
  label and area stay for the figures). The latest position in clear is not history: it is
  cleared when the agent goes off duty.
- ``person_erased``: the person's private request fields (destinations) are erased; the jobs
  stay, anonymous, for the figures.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.periodic import periodic
from auth.signals import person_erased
from scenarios.engines.dispatch.config import CONFIGS
from scenarios.engines.dispatch.models import DispatchJob, DispatchPosition

DEFAULT_RETENTION = timedelta(days=7)


def retention() -> timedelta:
    return max((c.position_retention for c in CONFIGS.values()), default=DEFAULT_RETENTION)


def purge_positions(session: Session, *, clock: Clock, keep: timedelta) -> int:
    """Delete position history older than ``keep`` and clear the points of jobs ended before
    then; how many rows of both."""
    cutoff = clock.now() - keep
    history = session.execute(sa.delete(DispatchPosition).where(DispatchPosition.at < cutoff))
    points = session.execute(sa.update(DispatchJob).where(DispatchJob.origin_point.is_not(None),
                                                          DispatchJob.ended_at < cutoff)
                             .values(origin_point=None), execution_options={"synchronize_session": False})
    return (history.rowcount or 0) + (points.rowcount or 0)


@periodic("purge_dispatch_positions", every=timedelta(minutes=10))
def purge_dispatch_positions(session: Session, clock: Clock) -> int:
    """Position history past its retention is deleted, with the points of jobs ended before."""
    return purge_positions(session, clock=clock, keep=retention())


@person_erased.connect
def _on_person_erased(sender: object, *, session: Session, person_id: int, **_: object) -> None:
    session.execute(sa.update(DispatchJob).where(DispatchJob.requester_person_id == person_id)
                    .values(private=None, requester_person_id=None),
                    execution_options={"synchronize_session": False})
