"""Entry and exit by plate: the car park's cameras (telemetry devices bound to the lot) or its
staff. What the barrier does is the answer.

- **Entry**: one stay per plate inside a lot (a partial unique index): a camera reading the
  same plate twice — in the same second or later — finds the stay already open and answers it
  again (``duplicate``), never a second entry. A reservation of this plate for now (its arrival
  window up to the grace) is checked in (the booking engine's no-show then leaves it alone).
- **Exit**: the fee from the tariff (contract hours free); what was paid in the mini-program
  before leaving counts (a payment holds its fee for 15 minutes). Nothing owed: open. Owed:
  the operator's rule — ``open_on_payment_failure`` opens and records a debt, collected later;
  otherwise the barrier stays closed until it is paid. An exit with no recorded entry follows
  the operator's ``no_entry_rule``: a flat fee, or staff decide (``pending_staff``: closed, the
  operator's staff told, ``decide`` sets the fee).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import ApiError
from app.fields import CST
from auth.principal import Principal
from scenarios.engines.booking import admission
from scenarios.engines.booking.models import BkBooking
from scenarios.parking import plates
from scenarios.parking.contracts import windows_for
from scenarios.parking.models import PkDebt, PkLot, PkReservation, PkStay, PkVehicle
from scenarios.parking.tariff import Tariff, fee

PAID_HOLDS = timedelta(minutes=15)
"""A fee paid before leaving holds this long (then the minutes after it are owed)."""
REREAD = timedelta(seconds=60)
"""An exit read again this soon after a stay ended is that exit."""
EARLY = timedelta(minutes=30)
"""A reservation is checked in by an entry up to this long before its window."""


@dataclass
class Passage:
    stay: PkStay
    barrier: str  # open | closed
    duplicate: bool = False
    owed_fen: int = 0
    reservation_id: int | None = None
    open_debts: int = 0


def _inside(session: Session, lot: PkLot, digest: str, *, lock: bool = False) -> PkStay | None:
    stmt = sa.select(PkStay).where(PkStay.lot_id == lot.id, PkStay.plate_hash == digest, PkStay.status == "inside")
    return session.scalar(stmt.with_for_update() if lock else stmt)


def open_debts(session: Session, digest: str) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(PkDebt).where(
        PkDebt.plate_hash == digest, PkDebt.status == "open")) or 0


def _check_in_reservation(session: Session, lot: PkLot, digest: str, at: datetime) -> int | None:
    """The plate's reservation at this lot whose window holds ``at``: checked in (one row moved)."""
    row = session.execute(sa.select(PkReservation.id, PkReservation.booking_id)
                          .join(PkVehicle, PkVehicle.id == PkReservation.vehicle_id)
                          .join(BkBooking, BkBooking.id == PkReservation.booking_id)
                          .where(PkReservation.lot_id == lot.id, PkVehicle.plate_hash == digest,
                                 PkReservation.arrive_from <= at + EARLY,
                                 PkReservation.held_until >= at, BkBooking.status == "confirmed")
                          .order_by(PkReservation.arrive_from).limit(1)).first()
    if row is None:
        return None
    return row.id if admission.check_in(session, booking_id=row.booking_id, now=at) is not None else None


def enter(session: Session, *, lot: PkLot, plate: object, colour: object, at: datetime,
          device_id: int | None) -> Passage:
    normal, colour = plates.parse(plate, colour)
    digest = plates.lookup(normal)
    found = _inside(session, lot, digest)
    if found is not None:
        return Passage(found, "open", duplicate=True, reservation_id=found.reservation_id,
                       open_debts=open_debts(session, digest))
    stay = PkStay(lot_id=lot.id, plate=normal, plate_hash=digest, colour=colour, entered_at=at,
                  entry_device_id=device_id, status="inside", paid_fen=0, created_at=at)
    try:
        with session.begin_nested():
            session.add(stay)
            session.flush()
    except IntegrityError:  # the same plate read at once by another request: that entry stands
        found = _inside(session, lot, digest)
        if found is None:
            raise
        return Passage(found, "open", duplicate=True, reservation_id=found.reservation_id,
                       open_debts=open_debts(session, digest))
    stay.reservation_id = _check_in_reservation(session, lot, digest, at)
    return Passage(stay, "open", reservation_id=stay.reservation_id, open_debts=open_debts(session, digest))


def due(session: Session, lot: PkLot, stay: PkStay, at: datetime) -> int:
    """The stay's fee at ``at`` (a payment made within ``PAID_HOLDS`` before holds its fee)."""
    if stay.entered_at is None:
        return stay.fee_fen or 0
    until = stay.paid_at if stay.paid_at is not None and at <= stay.paid_at + PAID_HOLDS else at
    until = max(until, stay.entered_at)
    first, last = stay.entered_at.astimezone(CST).date(), until.astimezone(CST).date()
    return fee(Tariff.of(lot.tariff), stay.entered_at, until, windows_for(session, lot, stay.plate_hash, first, last))


def _record_debt(session: Session, lot: PkLot, stay: PkStay, amount: int, reason: str, now: datetime) -> None:
    session.add(PkDebt(stay_id=stay.id, lot_id=lot.id, plate_hash=stay.plate_hash, amount_fen=amount, reason=reason,
                       status="open", created_at=now))


def _settle(session: Session, lot: PkLot, stay: PkStay, at: datetime, *, charge_without_stopping: Any) -> Passage:
    """Decide the barrier for a stay whose fee is set (``stay.fee_fen``)."""
    owed = max(0, (stay.fee_fen or 0) - stay.paid_fen)
    if owed == 0:
        stay.status, stay.settled_by = ("free", "tariff") if not stay.fee_fen else ("paid", "prepaid")
        return Passage(stay, "open")
    if charge_without_stopping is not None and charge_without_stopping(session, lot, stay, owed, at):
        stay.status, stay.settled_by = "paid", "wechat_parking"
        return Passage(stay, "open")
    if lot.open_on_payment_failure:
        stay.status, stay.settled_by = "debt", "debt"
        _record_debt(session, lot, stay, owed, "unpaid_at_exit", at)
        return Passage(stay, "open", owed_fen=owed)
    stay.exited_at = None  # still inside: pay in the mini-program, the camera reads it again
    return Passage(stay, "closed", owed_fen=owed)


def leave(session: Session, *, lot: PkLot, plate: object, colour: object, at: datetime, device_id: int | None,
          charge_without_stopping: Any = None, tell_staff: Any = None) -> Passage:
    normal, colour = plates.parse(plate, colour)
    digest = plates.lookup(normal)
    stay = _inside(session, lot, digest, lock=True)
    if stay is None:
        recent = session.scalar(sa.select(PkStay).where(
            PkStay.lot_id == lot.id, PkStay.plate_hash == digest, PkStay.exited_at >= at - REREAD,
            PkStay.exited_at <= at + REREAD).order_by(PkStay.exited_at.desc()).limit(1))
        if recent is not None:
            return Passage(recent, "closed" if recent.status == "pending_staff" else "open", duplicate=True)
        return _no_entry(session, lot, normal, digest, colour, at, device_id, charge_without_stopping, tell_staff)
    stay.exited_at, stay.exit_device_id = at, device_id
    stay.fee_fen = due(session, lot, stay, at)
    passage = _settle(session, lot, stay, at, charge_without_stopping=charge_without_stopping)
    session.flush()
    return passage


def _no_entry(session: Session, lot: PkLot, normal: str, digest: str, colour: str, at: datetime,
              device_id: int | None, charge_without_stopping: Any, tell_staff: Any) -> Passage:
    stay = PkStay(lot_id=lot.id, plate=normal, plate_hash=digest, colour=colour, entered_at=None, exited_at=at,
                  exit_device_id=device_id, status="pending_staff", paid_fen=0, created_at=at)
    session.add(stay)
    session.flush()
    if lot.no_entry_rule == "staff":
        if tell_staff is not None:
            tell_staff(session, lot, stay)
        return Passage(stay, "closed")
    stay.fee_fen = lot.no_entry_fee_fen
    passage = _settle(session, lot, stay, at, charge_without_stopping=charge_without_stopping)
    passage.stay.settled_by = passage.stay.settled_by or "flat_fee"
    session.flush()
    return passage


def decide(session: Session, *, principal: Principal, lot: PkLot, stay: PkStay, fee_fen: int, now: datetime,
           charge_without_stopping: Any = None) -> Passage:
    """Staff set the fee of an exit with no recorded entry; then it settles like any exit."""
    if not principal.is_staff or principal.org_id != lot.operator_id:
        raise ApiError("forbidden")
    moved = session.execute(sa.update(PkStay).where(PkStay.id == stay.id, PkStay.status == "pending_staff",
                                                    PkStay.fee_fen.is_(None)).values(fee_fen=fee_fen)).rowcount
    if not moved:
        raise ApiError("stay_not_pending")
    session.refresh(stay)
    passage = _settle(session, lot, stay, now, charge_without_stopping=charge_without_stopping)
    if passage.barrier == "closed":  # no debt allowed: the staff's fee stands, paid in the mini-program
        stay.exited_at = now
    stay.settled_by = "staff" if stay.settled_by in (None, "tariff") else stay.settled_by
    session.flush()
    return passage
