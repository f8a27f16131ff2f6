"""The map (一张图): car parks with capacity, tariff and live free spaces; nearby search.

Free spaces are ``capacity - occupied`` from the latest occupancy the lot's counter reported
(through the telemetry engine, copied onto the lot by ``on_occupancy`` so a search reads one
table). A counter that went silent shows **unknown**, never free: the worker's silence job
clears the copy (``on_occupancy_silent``), and a copy older than the lot's ``silence_seconds``
counts as unknown even when the worker is late.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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


class MapLot:
    """A lot as the map holds it: its view without the live fields (built once per snapshot),
    where it is, and until when its count is fresh."""

    __slots__ = ("code", "free", "fresh_until", "json_head", "lat", "lon", "pilot", "static")

    def __init__(self, row: Any) -> None:
        self.lat, self.lon, self.code, self.pilot = row.lat, row.lon, row.code, row.pilot
        self.static = lot_view(row, row.occupancy_at or datetime.min.replace(tzinfo=UTC), operator=row.operator,
                               as_text=True)
        for live_field in ("status", "free"):
            del self.static[live_field]
        self.json_head = json.dumps(self.static, ensure_ascii=False)[:-1]  # without its closing brace
        known = row.occupied is not None and row.occupancy_at is not None
        self.fresh_until = row.occupancy_at + timedelta(seconds=row.silence_seconds) if known else None
        self.free = max(0, row.capacity - row.occupied) if known else None

    def status(self, now: datetime) -> tuple[str, int | None]:
        if self.fresh_until is None or now > self.fresh_until:
            return "unknown", None
        return ("free" if self.free else "full"), self.free

    def view(self, now: datetime, distance_m: float) -> dict[str, Any]:
        status, free = self.status(now)
        return {**self.static, "status": status, "free": free, "distance_m": round(distance_m)}

    def view_json(self, now: datetime, distance_m: float) -> str:
        """``view`` as JSON text: the static part was encoded once, with the snapshot."""
        status, free = self.status(now)
        return (f'{self.json_head}, "status": "{status}", "free": {"null" if free is None else free}, '
                f'"distance_m": {round(distance_m)}}}')


def map_rows(session: Session) -> list[MapLot]:
    """Every active lot with its operator's code and latest count (the map's one statement)."""
    return [MapLot(row) for row in session.execute(_map_statement())]


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


def nearby(rows: Iterable[MapLot], *, lat: float, lon: float, radius_m: float, now: datetime,
           free_only: bool = False, pilot: str | None = None) -> list[tuple[MapLot, float]]:
    """The lots of ``rows`` within ``radius_m``, nearest first (ties by code); ``free_only``: with
    a free space known now (unknown is not free)."""
    min_lat, min_lon, max_lat, max_lon = bounding_box(lat, lon, radius_m)
    found = []
    for lot in rows:
        if not (min_lat <= lot.lat <= max_lat and min_lon <= lot.lon <= max_lon) or (pilot and lot.pilot != pilot):
            continue
        distance = haversine_m(lat, lon, lot.lat, lot.lon)
        if distance <= radius_m and (not free_only or lot.status(now)[0] == "free"):
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
