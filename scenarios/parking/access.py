"""Who sees what in parking (registered with ``auth.visibility`` from ``routes.blueprints``).

- A lot (``pk_lot``): everyone, signed in or not, while active (the map); an inactive one, its
  operator's staff. Changing anything at a lot (occupancy, passages, decisions) is its operator's
  devices and staff: others 403.
- A contract (``pk_contract``): its resident, and the lot operator's staff (who read it: 403 on
  a change).
- A stay and a debt (``pk_stay``, ``pk_debt``): the resident who recorded a vehicle with that
  plate, and the lot operator's staff; anyone else 404.

The lists (``*_seen``, ``plate_rows``) hold the same rule: a resident's own rows, a staff
member's organisation's car parks' (the API's lists and the console's pages both use them).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.fields import CST
from auth.principal import Principal
from auth.visibility import register
from scenarios.parking.lots import load_lot
from scenarios.parking.models import PkContract, PkDebt, PkLot, PkReservation, PkStay, PkVehicle

OVERSEERS = ("310116-bureau-transport", "310116")
"""区交通委 and the district read every operator's figures."""


def _int(key: Any) -> int | None:
    return key if isinstance(key, int) and 0 < key < 2**63 else None


def operates(session: Session, principal: Principal, lot_id: int) -> bool:
    if not (principal.is_staff or principal.is_device):
        return False
    return principal.org_id == session.scalar(sa.select(PkLot.operator_id).where(PkLot.id == lot_id))


def owns_plate(session: Session, principal: Principal, plate_hash: str) -> bool:
    return principal.is_resident and session.scalar(sa.select(PkVehicle.id).where(
        PkVehicle.account_id == principal.account_id, PkVehicle.plate_hash == plate_hash).limit(1)) is not None


def _sees_lot(session: Session, principal: Principal | None, lot: PkLot) -> bool:
    return lot.active or (principal is not None and principal.org_id == lot.operator_id)


def _sees_contract(session: Session, principal: Principal, contract: PkContract) -> bool:
    if principal.is_resident:
        return principal.person_id == contract.person_id
    return principal.is_staff and operates(session, principal, contract.lot_id)


def _sees_plate_row(session: Session, principal: Principal, row: PkStay | PkDebt) -> bool:
    if principal.is_resident:
        return owns_plate(session, principal, row.plate_hash)
    return principal.is_staff and operates(session, principal, row.lot_id)


def _at_lot(stmt: sa.Select, model: Any, lot_code: str | None) -> sa.Select:
    if lot_code:
        stmt = stmt.where(model.lot_id == sa.select(PkLot.id).where(PkLot.code == lot_code).scalar_subquery())
    return stmt


def _operated(stmt: sa.Select, model: Any, principal: Principal) -> sa.Select:
    return stmt.join(PkLot, PkLot.id == model.lot_id).where(PkLot.operator_id == principal.org_id)


def plate_rows(model: Any, principal: Principal, lot_code: str | None) -> sa.Select:
    """Stays or debts (``model``): of the resident's vehicles' plates, or of the staff's car parks."""
    stmt = sa.select(model)
    if principal.is_resident:
        mine = sa.select(PkVehicle.plate_hash).where(PkVehicle.account_id == principal.account_id)
        stmt = stmt.where(model.plate_hash.in_(mine))
    else:
        stmt = _operated(stmt, model, principal)
    return _at_lot(stmt, model, lot_code).order_by(model.id.desc())


def contracts_seen(principal: Principal, lot_code: str | None) -> sa.Select:
    """Contracts: the resident's own, or those at the staff's car parks; latest first."""
    stmt = sa.select(PkContract)
    if principal.is_resident:
        stmt = stmt.where(PkContract.person_id == principal.person_id)
    else:
        stmt = _operated(stmt, PkContract, principal)
    return _at_lot(stmt, PkContract, lot_code).order_by(PkContract.id.desc())


def reservations_seen(principal: Principal, lot_code: str | None, day: date | None = None) -> sa.Select:
    """Reservations: of the resident's vehicles, or at the staff's car parks; latest first, or
    with ``day`` the arrival windows of that Beijing day, earliest first."""
    stmt = sa.select(PkReservation)
    if principal.is_resident:
        stmt = stmt.join(PkVehicle, PkVehicle.id == PkReservation.vehicle_id).where(
            PkVehicle.account_id == principal.account_id)
    else:
        stmt = _operated(stmt, PkReservation, principal)
    stmt = _at_lot(stmt, PkReservation, lot_code)
    if day is None:
        return stmt.order_by(PkReservation.id.desc())
    start = datetime.combine(day, time(0), CST)
    return stmt.where(PkReservation.arrive_from >= start, PkReservation.arrive_from < start + timedelta(days=1)
                      ).order_by(PkReservation.arrive_from, PkReservation.id)


def _contract(session: Session, key: Any) -> PkContract | None:
    return session.get(PkContract, key) if _int(key) else None


def _stay(session: Session, key: Any) -> PkStay | None:
    return session.get(PkStay, key) if _int(key) else None


def _debt(session: Session, key: Any) -> PkDebt | None:
    return session.get(PkDebt, key) if _int(key) else None


def register_object_types() -> None:
    register("pk_lot", load=load_lot, visible=_sees_lot, description="a car park (everyone while active)")
    register("pk_contract", load=_contract, visible=_sees_contract,
             description="a 错峰共享 contract (its resident; the lot operator's staff)")
    register("pk_stay", load=_stay, visible=_sees_plate_row,
             description="a stay at a car park (the plate's recorded owner; the operator's staff)")
    register("pk_debt", load=_debt, visible=_sees_plate_row,
             description="an unpaid exit fee (the plate's recorded owner; the operator's staff)")
