"""Retention of check-ins, and answers to identity events.

- ``purge_checkins`` (periodic, hourly): check-ins older than ``CHECKIN_RETENTION_DAYS``
  (28 by default) are deleted.
- ``person_erased``: the person's check-ins are deleted (no law requires keeping them).
- ``person_merged``: the dropped person's check-ins move to the kept one.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from app.clock import Clock
from app.config import ConfigError
from app.periodic import periodic
from auth.signals import person_erased, person_merged
from scenarios.place_checkin.models import Checkin
from scenarios.place_checkin.service import purge_old_checkins

DEFAULT_RETENTION_DAYS = 28


def retention() -> timedelta:
    raw = current_app.extensions["settings"].get("CHECKIN_RETENTION_DAYS") if has_app_context() else None
    if raw is None or not raw.strip():
        return timedelta(days=DEFAULT_RETENTION_DAYS)
    try:
        days = int(raw)
    except ValueError as exc:
        raise ConfigError("CHECKIN_RETENTION_DAYS must be a whole number of days") from exc
    return timedelta(days=max(1, days))


@periodic("purge_checkins", every=timedelta(hours=1))
def purge_checkins(session: Session, clock: Clock) -> int:
    """Check-ins past the retention period are deleted."""
    return purge_old_checkins(session, clock=clock, retention=retention())


@person_erased.connect
def _on_person_erased(sender: object, *, session: Session, person_id: int, **_: object) -> None:
    session.execute(sa.delete(Checkin).where(Checkin.person_id == person_id))


@person_merged.connect
def _on_person_merged(sender: object, *, session: Session, keep_id: int, drop_id: int, **_: object) -> None:
    session.execute(sa.update(Checkin).where(Checkin.person_id == drop_id).values(person_id=keep_id),
                    execution_options={"synchronize_session": False})
