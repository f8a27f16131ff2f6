"""Loaded by web processes and the worker: parking's payment purposes (their hooks run in the
transaction that books a payment), the 无感支付 entry notice's timer handler, and what a person's
erasure or merge changes here."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from auth.signals import person_erased, person_merged
from scenarios.parking import nonstop, payments  # noqa: F401 (the purposes, the entry notice's timer)
from scenarios.parking.models import PkContract, PkVehicle


@person_erased.connect
def _on_person_erased(sender: object, *, session: Session, person_id: int, **_: object) -> None:
    """Their plates are forgotten (the rows stay, anonymous, for the records that point at them);
    contracts not yet started are cancelled. Stays of a plate are the car park's records, deleted
    by retention."""
    session.execute(sa.update(PkContract).where(PkContract.person_id == person_id, PkContract.status == "active",
                                                PkContract.paid_at.is_(None)).values(status="cancelled"))
    for vehicle in session.scalars(sa.select(PkVehicle).where(PkVehicle.person_id == person_id)).all():
        vehicle.plate, vehicle.plate_hash = "-", f"erased:{vehicle.id}"


@person_merged.connect
def _on_person_merged(sender: object, *, session: Session, keep_id: int, drop_id: int, **_: object) -> None:
    for model in (PkVehicle, PkContract):
        session.execute(sa.update(model).where(model.person_id == drop_id).values(person_id=keep_id))
