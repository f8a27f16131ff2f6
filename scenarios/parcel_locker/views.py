"""How a parcel and a locker read: the phone masked for everyone, the pass only for the
recipient and their relative while the parcel is stored, the device id only for staff."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from auth import pii
from auth.models import Device
from auth.principal import Principal
from qr import passes
from qr.models import QrPass
from scenarios.parcel_locker.models import STORED, Cell, Locker, Parcel, ParcelEvent
from scenarios.parcel_locker.service import REMIND_AFTER


def parcel_view(session: Session, parcel: Parcel, *, principal: Principal, clock: Clock,
                locker: Locker | None = None, cell: Cell | None = None,
                events: list[ParcelEvent] | None = None) -> dict[str, Any]:
    """``events``: the trail when the caller has it in hand (a parcel just stored)."""
    locker = locker or session.get(Locker, parcel.locker_id)
    cell = cell or session.get(Cell, parcel.cell_id)
    now = clock.now()
    staff = principal.kind == "staff"
    pickup_pass = None
    if principal.kind == "resident" and parcel.status == STORED and parcel.pass_id is not None:
        row = session.get(QrPass, parcel.pass_id)
        pickup_pass = {"token": passes.pass_token(row, clock=clock), "valid_until": row.valid_until}
    trail = events if events is not None else session.scalars(
        sa.select(ParcelEvent).where(ParcelEvent.parcel_id == parcel.id).order_by(ParcelEvent.at, ParcelEvent.id))
    return {
        "id": parcel.id, "status": parcel.status, "locker": locker.name, "cell": cell.label, "size": cell.size,
        "locker_device": session.scalar(sa.select(Device.uid).where(Device.id == locker.device_id)) if staff else None,
        "tracking_no": parcel.tracking_no, "courier": parcel.courier,
        "recipient_phone": pii.mask_mobile(parcel.recipient_phone), "proxy_named": parcel.proxy_person_id is not None,
        "stored_at": parcel.stored_at, "overdue": parcel.status == STORED and now - parcel.stored_at > REMIND_AFTER,
        "picked_up_at": parcel.picked_up_at, "retrieved_at": parcel.retrieved_at, "pickup_pass": pickup_pass,
        "trail": [{"action": e.action, "actor": e.actor, "detail": e.detail if staff else None, "at": e.at}
                  for e in trail],
    }


def locker_view(session: Session, locker: Locker, community: str | None = None) -> dict[str, Any]:
    cells = session.scalars(sa.select(Cell).where(Cell.locker_id == locker.id).order_by(Cell.label)).all()
    taken = set(session.scalars(sa.select(Parcel.cell_id).where(Parcel.locker_id == locker.id,
                                                                Parcel.status == STORED)))
    return {"device_id": session.scalar(sa.select(Device.uid).where(Device.id == locker.device_id)),
            "name": locker.name, "community": community,
            "cells": [{"label": c.label, "size": c.size, "occupied": c.id in taken} for c in cells]}
