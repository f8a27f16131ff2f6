"""A resident's vehicles: the plate typed once, stored encrypted with its keyed lookup hash."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from auth.principal import Principal
from scenarios.parking import plates
from scenarios.parking.models import PkVehicle


def own_vehicle(session: Session, principal: Principal, plate: object, colour: object, now: datetime) -> PkVehicle:
    """The caller's vehicle with this plate (recorded on first use). 422 ``plate_invalid``."""
    normal, colour = plates.parse(plate, colour)
    digest = plates.lookup(normal)
    vehicle = session.scalar(sa.select(PkVehicle).where(PkVehicle.account_id == principal.account_id,
                                                        PkVehicle.plate_hash == digest))
    if vehicle is None:
        vehicle = PkVehicle(account_id=principal.account_id, person_id=principal.person_id, plate=normal,
                            plate_hash=digest, colour=colour, created_at=now)
        session.add(vehicle)
        session.flush()
    return vehicle


def vehicle_view(vehicle: PkVehicle, *, owner: bool) -> dict:
    return {"id": vehicle.id, "plate": vehicle.plate if owner else plates.mask(vehicle.plate),
            "plate_masked": plates.mask(vehicle.plate), "colour": vehicle.colour}
