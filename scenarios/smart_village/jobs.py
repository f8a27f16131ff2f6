"""smart-village's timer handler: an important notice's follow-up (``service.CONFIRMATION``).

Publishing an important notice schedules one timer per level (24 h, 72 h: reminders to the
villagers who have not confirmed; 96 h: the committee told how many have not). The worker claims
each timer once (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a lease on SQLite) and the outbox's key
per (event, recipient) keeps a retried handler from sending twice.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.clock import Clock
from app.timers import Timer, timer_handler
from scenarios.smart_village import service
from scenarios.smart_village.models import SvNotice


@timer_handler(service.CONFIRMATION)
def on_confirmation_due(session: Session, timer: Timer, clock: Clock) -> None:
    notice = session.get(SvNotice, int(timer.subject_id))
    if notice is not None and notice.important:
        service.remind_unconfirmed(session, clock=clock, notice=notice, level=timer.level)
