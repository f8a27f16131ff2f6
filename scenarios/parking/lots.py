"""The map (一张图): car parks with capacity, tariff and live free spaces; nearby search.

Free spaces are ``capacity - occupied`` from the latest occupancy the lot's counter reported
(through the telemetry engine, copied onto the lot by ``on_occupancy`` so a search reads one
table). A counter that went silent shows **unknown**, never free: the worker's silence job
clears the copy (``on_occupancy_silent``), and a copy older than the lot's ``silence_seconds``
counts as unknown even when the worker is late.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.fields import to_cst_iso
from app.geo import bounding_box, haversine_m
from auth.organisations import Organisation
from scenarios.parking.models import PkLot

MAX_RADIUS_M = 20_000


@dataclass(frozen=True)
class Live:
    status: str  # free | full | unknown
    free: int | None
    reported_at: datetime | None


def live(lot: Any, now: datetime) -> Live:
    """The lot's free spaces now (unknown when its counter is silent or never reported)."""
    fresh = (lot.occupied is not None and lot.occupancy_at is not None
             and now - lot.occupancy_at <= timedelta(seconds=lot.silence_seconds))
    if not fresh:
        return Live("unknown", None, lot.occupancy_at)
    free = max(0, lot.capacity - lot.occupied)
    return Live("free" if free else "full", free, lot.occupancy_at)


def lot_view(lot: Any, now: datetime, *, operator: str, distance_m: float | None = None,
             as_text: bool = False) -> dict[str, Any]:
    """A lot (an ORM row, or a row of ``_nearby_statement``) as the map shows it (``as_text``:
    its time already an ISO string in +08:00, for an answer sent without the schema)."""
    state = live(lot, now)
    tariff = lot.tariff
    view = {"code": lot.code, "name": lot.name, "kind": lot.kind, "operator": operator, "address": lot.address,
            "lat": lot.lat, "lon": lot.lon, "capacity": lot.capacity, "reservable": lot.reservable,
            "tariff": {k: int(tariff[k]) for k in TARIFF_KEYS}, "e_payment": lot.e_payment, "pilot": lot.pilot,
            "status": state.status, "free": state.free,
            "reported_at": to_cst_iso(state.reported_at) if as_text and state.reported_at else state.reported_at}
    if distance_m is not None:
        view["distance_m"] = round(distance_m)
    return view


TARIFF_KEYS = ("first_hour_fen", "half_hour_fen", "daily_cap_fen", "free_minutes")


@cache
def _map_statement() -> sa.Select:
    return (sa.select(PkLot.code, PkLot.name, PkLot.kind, PkLot.address, PkLot.lat, PkLot.lon, PkLot.capacity,
                      PkLot.reservable, PkLot.tariff, PkLot.e_payment, PkLot.pilot, PkLot.occupied,
                      PkLot.occupancy_at, PkLot.silence_seconds, Organisation.code.label("operator"))
            .join(Organisation, Organisation.id == PkLot.operator_id).where(PkLot.active.is_(True)))


def map_rows(session: Session) -> list[Any]:
    """Every active lot with its operator's code and latest count (the map's one statement)."""
    return list(session.execute(_map_statement()))


class MapSnapshot:
    """The map's rows, read at most once every ``seconds`` per process (0: on every request).

    The district has dozens of car parks, not thousands: holding them all and measuring the
    distance to each costs less than a round trip. A count is at most ``seconds`` old on top of
    its own age; silence is still judged at the request's time (``live``)."""

    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._monotonic = monotonic
        self._rows: list[Any] | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def _stale(self) -> bool:
        return self._rows is None or self._monotonic() - self._at >= self.seconds

    def rows(self, load: Callable[[], list[Any]]) -> list[Any]:
        if self.seconds <= 0:
            return load()
        if self._stale():
            with self._lock:
                if self._stale():
                    self._rows, self._at = load(), self._monotonic()
        return self._rows


def snapshot_seconds(settings: Any) -> float:
    """``PARKING_MAP_SECONDS``: 2 by default, 0 (no snapshot) under ``APP_ENV=test``."""
    default = "0" if getattr(settings, "app_env", "") == "test" else "2"
    raw = settings.get("PARKING_MAP_SECONDS", default)
    try:
        return max(0.0, float(raw or default))
    except ValueError:
        raise ValueError(f"PARKING_MAP_SECONDS must be a number of seconds, not {raw!r}") from None


def nearby(rows: Iterable[Any], *, lat: float, lon: float, radius_m: float, now: datetime, free_only: bool = False,
           pilot: str | None = None) -> list[tuple[Any, float]]:
    """The lots of ``rows`` within ``radius_m``, nearest first (ties by code); ``free_only``: with
    a free space known now (unknown is not free)."""
    min_lat, min_lon, max_lat, max_lon = bounding_box(lat, lon, radius_m)
    found = []
    for row in rows:
        if not (min_lat <= row.lat <= max_lat and min_lon <= row.lon <= max_lon) or (pilot and row.pilot != pilot):
            continue
        distance = haversine_m(lat, lon, row.lat, row.lon)
        if distance <= radius_m and (not free_only or live(row, now).status == "free"):
            found.append((row, distance))
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
