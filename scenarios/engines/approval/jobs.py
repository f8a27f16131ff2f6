"""The approval engine's timer handler: a reviewer's deadline passing."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.clock import Clock
from app.timers import Timer, timer_handler
from scenarios.engines.approval import service
from scenarios.engines.approval.config import config_for
from scenarios.engines.approval.models import ApApplication


@timer_handler(service.REVIEW_DUE)
def on_review_due(session: Session, timer: Timer, clock: Clock) -> None:
    application = session.get(ApApplication, int(timer.subject_id))
    if application is None:
        return
    config = config_for(application.scenario)
    service.mark_overdue(session, application.id, clock=clock,
                         channel=config.notify_channel if config is not None else "auto")
