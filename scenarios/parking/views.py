"""How parking's rows are shown: plates masked except to the vehicle's owner."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from auth.principal import Principal
from scenarios.parking import plates
from scenarios.parking.access import owns_plate
from scenarios.parking.gate import Passage
from scenarios.parking.models import PkContract, PkDebt, PkLot, PkProject, PkSpace, PkStay


def lot_code(session: Session, lot_id: int) -> str:
    return session.scalar(sa.select(PkLot.code).where(PkLot.id == lot_id))


def hours(start_minute: int, end_minute: int) -> str:
    return f"{start_minute // 60:02d}:{start_minute % 60:02d}-{end_minute // 60:02d}:{end_minute % 60:02d}"


def shown_plate(session: Session, principal: Principal | None, plate: str, plate_hash: str) -> str:
    own = principal is not None and owns_plate(session, principal, plate_hash)
    return plate if own else plates.mask(plate)


def stay_view(session: Session, principal: Principal | None, stay: PkStay) -> dict[str, Any]:
    return {"id": stay.id, "lot": lot_code(session, stay.lot_id), "colour": stay.colour,
            "plate": shown_plate(session, principal, stay.plate, stay.plate_hash),
            "entered_at": stay.entered_at, "exited_at": stay.exited_at, "status": stay.status,
            "fee_fen": stay.fee_fen, "paid_fen": stay.paid_fen,
            "owed_fen": max(0, (stay.fee_fen or 0) - stay.paid_fen), "settled_by": stay.settled_by,
            "reservation_id": stay.reservation_id}


def passage_view(session: Session, principal: Principal, passage: Passage) -> dict[str, Any]:
    return {"barrier": passage.barrier, "duplicate": passage.duplicate, "owed_fen": passage.owed_fen,
            "open_debts": passage.open_debts, "stay": stay_view(session, principal, passage.stay)}


def debt_view(session: Session, principal: Principal, debt: PkDebt) -> dict[str, Any]:
    stay = session.get(PkStay, debt.stay_id)
    return {"id": debt.id, "lot": lot_code(session, debt.lot_id), "amount_fen": debt.amount_fen,
            "plate": shown_plate(session, principal, stay.plate, stay.plate_hash), "reason": debt.reason,
            "status": debt.status, "created_at": debt.created_at, "settled_at": debt.settled_at}


def contract_view(session: Session, principal: Principal, contract: PkContract) -> dict[str, Any]:
    from scenarios.parking.models import PkVehicle

    vehicle = session.get(PkVehicle, contract.vehicle_id)
    project = session.get(PkProject, contract.project_id)
    mine = principal.is_resident and principal.person_id == contract.person_id
    return {"id": contract.id, "project": project.code, "lot": lot_code(session, contract.lot_id),
            "space": session.scalar(sa.select(PkSpace.label).where(PkSpace.id == contract.space_id)),
            "plate": vehicle.plate if mine else plates.mask(vehicle.plate), "starts_on": contract.starts_on,
            "ends_on": contract.ends_on, "hours": hours(contract.start_minute, contract.end_minute),
            "fee_fen": contract.fee_fen, "status": contract.status, "paid": contract.paid_at is not None,
            "payment_id": contract.payment_id}
