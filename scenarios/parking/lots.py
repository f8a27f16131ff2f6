"""The map (一张图): car parks with capacity, tariff and live free spaces; nearby search.

Free spaces are ``capacity - occupied`` from the latest occupancy the lot's counter reported
(through the telemetry engine, copied onto the lot by ``on_occupancy`` so a search reads one
table). A counter that went silent shows **unknown**, never free: the worker's silence job
clears the copy (``on_occupancy_silent``), and a copy older than the lot's ``silence_seconds``
counts as unknown even when the worker is late.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.geo import bounding_box, haversine_m
from scenarios.parking.models import PkLot
from scenarios.parking.tariff import Tariff

MAX_RADIUS_M = 20_000


@dataclass(frozen=True)
class Live:
    status: str  # free | full | unknown
    free: int | None
    reported_at: datetime | None


def live(lot: PkLot, now: datetime) -> Live:
    """The lot's free spaces now (unknown when its counter is silent or never reported)."""
    fresh = (lot.occupied is not None and lot.occupancy_at is not None
             and now - lot.occupancy_at <= timedelta(seconds=lot.silence_seconds))
    if not fresh:
        return Live("unknown", None, lot.occupancy_at)
    free = max(0, lot.capacity - lot.occupied)
    return Live("free" if free else "full", free, lot.occupancy_at)


def lot_view(lot: PkLot, now: datetime, *, operator: str, distance_m: float | None = None) -> dict[str, Any]:
    state = live(lot, now)
    view = {"code": lot.code, "name": lot.name, "kind": lot.kind, "operator": operator, "address": lot.address,
            "lat": lot.lat, "lon": lot.lon, "capacity": lot.capacity, "reservable": lot.reservable,
            "tariff": Tariff.of(lot.tariff).as_dict(), "e_payment": lot.e_payment, "pilot": lot.pilot,
            "status": state.status, "free": state.free, "reported_at": state.reported_at}
    if distance_m is not None:
        view["distance_m"] = round(distance_m)
    return view


_COLUMNS = (PkLot.id, PkLot.code, PkLot.name, PkLot.kind, PkLot.operator_id, PkLot.address, PkLot.lat, PkLot.lon,
            PkLot.capacity, PkLot.reservable, PkLot.tariff, PkLot.e_payment, PkLot.pilot, PkLot.occupied,
            PkLot.occupancy_at, PkLot.silence_seconds)


def nearby(session: Session, *, lat: float, lon: float, radius_m: float, now: datetime, free_only: bool = False,
           pilot: str | None = None) -> list[tuple[PkLot, float]]:
    """Active lots within ``radius_m``, nearest first (ties by code); ``free_only``: with a free
    space known now (unknown is not free)."""
    min_lat, min_lon, max_lat, max_lon = bounding_box(lat, lon, radius_m)
    stmt = sa.select(PkLot).where(PkLot.active.is_(True), PkLot.lat.between(min_lat, max_lat),
                                  PkLot.lon.between(min_lon, max_lon))
    if pilot:
        stmt = stmt.where(PkLot.pilot == pilot)
    found = []
    for lot in session.scalars(stmt):
        distance = haversine_m(lat, lon, lot.lat, lot.lon)
        if distance <= radius_m and (not free_only or live(lot, now).status == "free"):
            found.append((lot, distance))
    found.sort(key=lambda pair: (pair[1], pair[0].code))
    return found


def load_lot(session: Session, code: Any) -> PkLot | None:
    if not isinstance(code, str) or not 0 < len(code) <= 40:
        return None
    return session.scalar(sa.select(PkLot).where(PkLot.code == code))


# ---------------------------------------------------------------- telemetry hooks


def on_occupancy(session: Session, device: Any, lot: PkLot, reading: Any) -> None:
    """A newer occupancy reading is copied onto the lot (a late one changes nothing)."""
    if not reading.latest:
        return
    session.execute(sa.update(PkLot).where(PkLot.id == lot.id, sa.or_(
        PkLot.occupancy_at.is_(None), PkLot.occupancy_at <= reading.at)).values(
        occupied=int(reading.value["occupied"]), occupancy_at=reading.at))


def on_occupancy_silent(session: Session, device: Any, lot: PkLot) -> None:
    """The counter went silent: the lot's free spaces are unknown until it reports again."""
    session.execute(sa.update(PkLot).where(PkLot.id == lot.id).values(occupied=None))
