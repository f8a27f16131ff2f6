"""rural-rental's periodic jobs: remind each village committee of inspections coming due, and
give the green card back to houses whose last violation has aged out of the policy's window.

Every hour, houses whose next inspection is within ``DUE_WITHIN`` days get one notice to their
village's committee per (house, due date): the outbox's unique key makes later passes no-ops.
Every hour too, approved houses without the card that have a violation no longer counted (found
on or before ``service.violation_window_start(today)``) are rated again: the card comes back
when nothing else holds it back (the last two inspections passed, no newer violation).
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.notify.service import Notice, Recipient, enqueue_many
from app.periodic import periodic
from app.places.models import Village
from app.places.service import local_date
from scenarios.rural_rental import service as svc
from scenarios.rural_rental.models import RrHouse, RrViolation

DUE_WITHIN = 14


def remind_inspections(session: Session, clock: Clock) -> int:
    today = local_date(clock)
    rows = session.execute(
        sa.select(RrHouse.id, RrHouse.house_number, RrHouse.next_inspection_on, Village.name, Village.committee_id)
        .join(Village, Village.id == RrHouse.village_id)
        .where(RrHouse.state != "registered", RrHouse.next_inspection_on <= today + timedelta(days=DUE_WITHIN))).all()
    notices = [Notice(f"rural_rental.inspection_due:{r.id}:{r.next_inspection_on.isoformat()}", "inspection_due",
                      (Recipient("org", r.committee_id),),
                      {"house_id": r.id, "ticket_no": f"RR{r.id:08d}", "house": f"{r.name}{r.house_number}号"[:20],
                       "due_on": r.next_inspection_on.isoformat()}, channel="auto")
               for r in rows]
    return enqueue_many(session, notices, clock=clock) if notices else 0


@periodic("rural_rental_inspections_due", every=timedelta(hours=1))
def _remind(session: Session, clock: Clock) -> int:
    return remind_inspections(session, clock)


def restore_green_cards(session: Session, clock: Clock) -> int:
    """Rate again the approved houses without the card whose violations have aged out; returns
    how many got it back."""
    today = local_date(clock)
    aged = sa.select(RrViolation.id).where(RrViolation.house_id == RrHouse.id,
                                           RrViolation.found_on <= svc.violation_window_start(today)).exists()
    houses = session.scalars(sa.select(RrHouse).where(RrHouse.state == "approved", RrHouse.green.is_(False), aged)
                             .order_by(RrHouse.id)).all()
    for house in houses:
        svc.refresh_green(session, house, today)
    session.flush()
    return sum(1 for h in houses if h.green)


@periodic("rural_rental_green_cards", every=timedelta(hours=1))
def _green_cards(session: Session, clock: Clock) -> int:
    return restore_green_cards(session, clock)
