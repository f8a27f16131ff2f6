"""How long rural-rental keeps what it holds about landlords and tenants (the retention schedule's
entries, run hourly by ``app.privacy.retention.enforce_retention`` with ``cutoff = now - KEEP``).

The basis we assume (to be confirmed by the district's legal counsel): a tenant's arrival and
departure (人来登记、人走注销) is a registration of the floating population for the police and
the village (《上海市居住证管理办法》, 公安部《租赁房屋治安管理规定》: the letting and its
tenants are registered); we keep it three years after the tenant left — or, had nobody recorded
the departure, after the tenancy's end — the period residences are kept for rental
registrations (README "Personal data"). So:

- ``purge_stays``: stays three years past the departure (or the tenancy's end);
- ``purge_requests``: rental requests three years after they were decided (pending ones stay);
- ``purge_tenancies``: tenancies decided and over for three years with no stay left;
- ``purge_houses``: a house with no tenancy left, no open violation, and neither registered nor
  inspected within three years is no longer let: it goes with its rooms, inspections,
  violations and requests.

``purge_lettings`` runs the four in that order (the houses' entry), so one pass frees a house.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.fields import CST
from scenarios.rural_rental.models import (
    RrFollowUp,
    RrHouse,
    RrInspection,
    RrRentalRequest,
    RrRoom,
    RrStay,
    RrTenancy,
    RrViolation,
)

KEEP = timedelta(days=3 * 365)
BASIS = "（依据假定：流动人口租住登记留存期，与居住登记一致；待区法律顾问确认）"


def _day(cutoff: datetime):
    return cutoff.astimezone(CST).date()


def purge_stays(session: Session, cutoff: datetime) -> int:
    """Stays whose tenant left before ``cutoff`` (or, never checked out, whose tenancy ended before it)."""
    over = sa.select(RrTenancy.id).where(RrTenancy.ends_on < _day(cutoff))
    return session.execute(sa.delete(RrStay).where(sa.or_(
        RrStay.left_at < cutoff, sa.and_(RrStay.left_at.is_(None), RrStay.tenancy_id.in_(over)))),
        execution_options={"synchronize_session": False}).rowcount or 0


def purge_requests(session: Session, cutoff: datetime) -> int:
    return session.execute(sa.delete(RrRentalRequest).where(
        RrRentalRequest.state != "pending", RrRentalRequest.decided_at < cutoff),
        execution_options={"synchronize_session": False}).rowcount or 0


def purge_tenancies(session: Session, cutoff: datetime) -> int:
    """Tenancies decided and over before ``cutoff`` that no stay or request refers to any more."""
    stays = sa.select(RrStay.id).where(RrStay.tenancy_id == RrTenancy.id).exists()
    asked = sa.select(RrRentalRequest.id).where(RrRentalRequest.tenancy_id == RrTenancy.id).exists()
    return session.execute(sa.delete(RrTenancy).where(
        RrTenancy.state != "pending", RrTenancy.ends_on < _day(cutoff), ~stays, ~asked),
        execution_options={"synchronize_session": False}).rowcount or 0


def purge_houses(session: Session, cutoff: datetime) -> int:
    """Houses no longer let (see the module docstring), with everything under them."""
    let = sa.select(RrTenancy.id).where(RrTenancy.house_id == RrHouse.id).exists()
    open_violation = sa.select(RrViolation.id).where(RrViolation.house_id == RrHouse.id,
                                                     RrViolation.state == "open").exists()
    inspected = sa.select(RrInspection.id).where(RrInspection.house_id == RrHouse.id,
                                                 RrInspection.inspected_at >= cutoff).exists()
    ids = list(session.scalars(sa.select(RrHouse.id).where(RrHouse.created_at < cutoff, ~let, ~open_violation,
                                                           ~inspected)))
    if not ids:
        return 0
    violations = sa.select(RrViolation.id).where(RrViolation.house_id.in_(ids))
    for stmt in (sa.delete(RrFollowUp).where(RrFollowUp.violation_id.in_(violations)),
                 sa.delete(RrViolation).where(RrViolation.house_id.in_(ids)),
                 sa.delete(RrInspection).where(RrInspection.house_id.in_(ids)),
                 sa.delete(RrRentalRequest).where(RrRentalRequest.house_id.in_(ids)),
                 sa.delete(RrRoom).where(RrRoom.house_id.in_(ids))):
        session.execute(stmt, execution_options={"synchronize_session": False})
    return session.execute(sa.delete(RrHouse).where(RrHouse.id.in_(ids)),
                           execution_options={"synchronize_session": False}).rowcount or 0


def purge_lettings(session: Session, cutoff: datetime) -> int:
    """Stays, requests, tenancies, then houses: in this order one run frees what the next step needs."""
    return sum(purge(session, cutoff) for purge in (purge_stays, purge_requests, purge_tenancies, purge_houses))
