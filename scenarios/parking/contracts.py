"""错峰共享: a resident's monthly contract for a shared space's hours (a project's window).

Contracts of one space never meet: the space row is locked (PostgreSQL ``FOR UPDATE``; SQLite
serialises writers), then the space's active contracts whose dates come near are checked
with ``tariff.windows_overlap`` (a night window reaches into the next morning). A contract is
paid through the ledger (``pk_contract``); until then it is ``active`` but unpaid, and an
intent that closes unpaid cancels it.
"""
from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import ApiError
from app.fields import CST
from auth.principal import Principal
from scenarios.parking.models import PkContract, PkLot, PkProject, PkSpace
from scenarios.parking.tariff import Window
from scenarios.parking.tariff import windows_overlap as meet
from scenarios.parking.vehicles import own_vehicle


def window_of(c: PkContract | PkProject, starts_on: date | None = None, ends_on: date | None = None) -> Window:
    return Window(starts_on or c.starts_on, ends_on or c.ends_on, c.start_minute, c.end_minute)


def period(month: str, months: int) -> tuple[date, date]:
    """``"2026-12"``, 2 → 1 Dec 2026 … 31 Jan 2027 (422 ``validation_error`` on ``month``)."""
    try:
        year, mon = (int(p) for p in month.split("-"))
        first = date(year, mon, 1)
    except ValueError:
        raise ApiError("validation_error", errors={"month": ["月份格式为 YYYY-MM。"]}) from None
    last = mon - 1 + months - 1  # the last month, counted from January of ``year`` (0-based)
    y, m = year + last // 12, last % 12 + 1
    return first, date(y, m, calendar.monthrange(y, m)[1])


def _today(now: datetime) -> date:
    return now.astimezone(CST).date()


def _lock_space(session: Session, space_id: int) -> None:
    # FOR UPDATE on PostgreSQL; SQLite renders none (its write transaction already serialises).
    session.execute(sa.select(PkSpace.id).where(PkSpace.id == space_id).with_for_update())


def _clashing(session: Session, space_id: int, window: Window) -> PkContract | None:
    near = session.scalars(sa.select(PkContract).where(
        PkContract.space_id == space_id, PkContract.status == "active",
        PkContract.starts_on <= window.ends_on + timedelta(days=1),
        PkContract.ends_on >= window.starts_on - timedelta(days=1)).order_by(PkContract.id))
    return next((c for c in near if meet(window_of(c), window)), None)


def sign(session: Session, *, principal: Principal, project: PkProject, month: str, months: int, plate: object,
         colour: object, now: datetime, space: str | None = None) -> PkContract:
    """A contract for the caller's vehicle on a space of ``project`` (the one named, else the
    first free). 409 ``contract_overlap`` (the named space is taken in those hours),
    ``no_shared_space`` (none free), 422 ``contract_in_past`` (starting before this month)."""
    starts_on, ends_on = period(month, months)
    if starts_on < _today(now).replace(day=1):
        raise ApiError("contract_in_past", errors={"month": ["合同须从本月或以后的月份开始。"]})
    vehicle = own_vehicle(session, principal, plate, colour, now)
    window = window_of(project, starts_on, ends_on)
    spaces = session.scalars(sa.select(PkSpace).where(PkSpace.project_id == project.id)
                             .order_by(PkSpace.label)).all()
    if space is not None:
        spaces = [s for s in spaces if s.label == space]
        if not spaces:
            raise ApiError("validation_error", errors={"space": ["该项目没有这个车位。"]})
    for candidate in spaces:
        _lock_space(session, candidate.id)
        clash = _clashing(session, candidate.id, window)
        if clash is None:
            contract = PkContract(project_id=project.id, space_id=candidate.id, lot_id=project.lot_id,
                                  person_id=principal.person_id, account_id=principal.account_id, vehicle_id=vehicle.id,
                                  starts_on=starts_on, ends_on=ends_on, start_minute=project.start_minute,
                                  end_minute=project.end_minute, fee_fen=project.monthly_fee_fen * months,
                                  status="active", created_at=now)
            session.add(contract)
            session.flush()
            return contract
        if space is not None:
            raise ApiError("contract_overlap", detail={"space": candidate.label, "contract_starts_on": str(
                clash.starts_on), "contract_ends_on": str(clash.ends_on)})
    raise ApiError("no_shared_space")


def cancel(session: Session, *, principal: Principal, contract: PkContract, now: datetime) -> PkContract:
    """The resident cancels before the first day (later: 409 ``contract_started``)."""
    if not principal.is_resident or principal.person_id != contract.person_id:
        raise ApiError("forbidden")
    if contract.status != "active":
        raise ApiError("contract_not_active")
    if contract.starts_on <= _today(now):
        raise ApiError("contract_started")
    session.execute(sa.update(PkContract).where(PkContract.id == contract.id, PkContract.status == "active")
                    .values(status="cancelled"))
    session.refresh(contract)
    return contract


def windows_for(session: Session, lot: PkLot, plate_hash: str, first: date, last: date) -> list[Window]:
    """The active contracts' hours of a plate at a lot between two dates (free hours at exit)."""
    from scenarios.parking.models import PkVehicle

    rows = session.scalars(sa.select(PkContract).join(PkVehicle, PkVehicle.id == PkContract.vehicle_id).where(
        PkContract.lot_id == lot.id, PkContract.status == "active", PkVehicle.plate_hash == plate_hash,
        PkContract.starts_on <= last, PkContract.ends_on >= first - timedelta(days=1)))
    return [window_of(c) for c in rows]
