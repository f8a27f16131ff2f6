"""Violations at rental houses and their follow-up (the committee's side of "统一管理").

The committee of the house's village records a violation (kind, note, photos, the day it was
found); it is followed up in steps (a note and photos each) until a step closes it. A violation
found in the last ``GREEN_CARD_VIOLATION_FREE_MONTHS`` months costs the house its green card at
once (its rooms lose their first place in search); the card comes back at an inspection once
the last two passed and the violation is older than that (service.green_card).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.places.service import local_date
from auth.principal import Principal
from scenarios.rural_rental import service as svc
from scenarios.rural_rental.models import RrFollowUp, RrHouse, RrViolation


def record(session: Session, *, clock: Clock, principal: Principal, house: RrHouse, data: dict) -> RrViolation:
    """The village committee records a violation at the house; the house loses its green card."""
    if not svc.is_committee(session, principal, house):
        raise ApiError("forbidden")
    today = local_date(clock)
    found_on = data.get("found_on") or today
    if found_on > today:
        raise ApiError("validation_error", errors={"found_on": ["不能晚于今天"]})
    violation = RrViolation(house_id=house.id, village_id=house.village_id, kind=data["kind"], note=data["note"],
                            photos=list(data.get("photos") or ()), found_on=found_on, state="open",
                            recorded_by_account_id=principal.account_id, recorded_at=clock.now())
    session.add(violation)
    session.flush()
    svc.refresh_green(session, house, today)
    return violation


def follow_up(session: Session, *, clock: Clock, principal: Principal, violation: RrViolation,
              data: dict) -> RrFollowUp:
    """A step of the follow-up by the village committee; ``close`` ends it (409 once closed)."""
    house = session.get(RrHouse, violation.house_id)
    if not svc.is_committee(session, principal, house):
        raise ApiError("forbidden")
    now = clock.now()
    if data.get("close"):
        closed = session.execute(sa.update(RrViolation).where(RrViolation.id == violation.id,
                                                              RrViolation.state == "open")
                                 .values(state="closed", closed_at=now).execution_options(synchronize_session=False))
        if closed.rowcount != 1:
            raise ApiError("violation_closed")
        session.refresh(violation)
    elif violation.state != "open":
        raise ApiError("violation_closed")
    step = RrFollowUp(violation_id=violation.id, note=data["note"], photos=list(data.get("photos") or ()),
                      closes=bool(data.get("close")), account_id=principal.account_id, at=now)
    session.add(step)
    session.flush()
    return step


def follow_ups(session: Session, violation: RrViolation) -> list[RrFollowUp]:
    return list(session.scalars(sa.select(RrFollowUp).where(RrFollowUp.violation_id == violation.id)
                                .order_by(RrFollowUp.id)))

