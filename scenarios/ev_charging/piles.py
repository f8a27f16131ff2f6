"""Piles as drivers and operators see them: their state now, nearby search, whether one may be
reserved.

A pile's state is its device's latest status reading (mirrored on ``ev_piles`` by the telemetry
hook) while that reading is younger than ``SILENT_AFTER``; older, the pile is ``offline``: its
state is unknown, never ``free``. This is decided when read, so a late worker changes nothing.
"""
from __future__ import annotations

import math
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import ApiError
from app.geo import bounding_box
from scenarios.engines.booking.models import BkResource, BkSlot
from scenarios.ev_charging.models import SILENT_AFTER, EvPile
from scenarios.ev_charging.tariff import energy_price

M_PER_DEG = 111_320.0
MAX_RADIUS_M = 20_000


def state_of(pile: Any, now: datetime) -> str:
    """``free``, ``charging``, ``fault`` or ``offline`` (silent, or marked offline by the worker)."""
    if pile.status_at is None or now - pile.status_at > SILENT_AFTER:
        return "offline"
    return pile.status


def _state_column(now: datetime) -> sa.ColumnElement[str]:
    return sa.case((EvPile.status_at > now - SILENT_AFTER, EvPile.status), else_=sa.literal("offline"))


def by_resource(session: Session, resource_id: int) -> EvPile | None:
    return session.scalar(sa.select(EvPile).where(EvPile.resource_id == resource_id))


def by_code(session: Session, code: str) -> EvPile | None:
    if not isinstance(code, str) or not 1 <= len(code) <= 40:
        return None
    return session.scalar(sa.select(EvPile).where(EvPile.code == code, EvPile.active.is_(True)))


def may_reserve(session: Session, *, clock: Any, resource: BkResource, slot: BkSlot) -> None:
    """The booking engine's ``may_reserve``: a pile its device reports faulty, or that is silent,
    is not reserved (409 ``pile_faulty`` / ``pile_offline``)."""
    pile = by_resource(session, resource.id)
    if pile is None or not pile.active:
        raise ApiError("slot_not_in_scenario", errors={"slot_id": ["不是充电桩的时段。"]})
    state = state_of(pile, clock.now())
    if state == "fault":
        raise ApiError("pile_faulty", errors={"slot_id": ["该充电桩故障，暂不可预约。"]})
    if state == "offline":
        raise ApiError("pile_offline", errors={"slot_id": ["该充电桩离线，状态未知，暂不可预约。"]})


@cache
def _nearby_columns() -> tuple[Any, ...]:
    return (EvPile.code, EvPile.station, EvPile.name, EvPile.address, EvPile.lat, EvPile.lon, EvPile.power_kw,
            EvPile.connector, EvPile.energy_fen_per_kwh, EvPile.service_fen_per_kwh, EvPile.tou,
            BkResource.code.label("resource"))


def nearby(*, lat: float, lon: float, radius_m: float, now: datetime, state: str | None = None,
           connector: str | None = None, min_power_kw: int | None = None) -> sa.Select:
    """Active piles within ``radius_m`` of (lat, lon), nearest first, with their state now: a
    bounding box the ``(lat, lon)`` index serves, then the equirectangular distance (within a
    few metres of the great-circle one at 20 km)."""
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise ApiError("validation_error", errors={"radius_m": [f"1 到 {MAX_RADIUS_M} 米。"]})
    south, west, north, east = bounding_box(lat, lon, radius_m)
    k = math.cos(math.radians(lat))
    dy, dx = (EvPile.lat - lat) * M_PER_DEG, (EvPile.lon - lon) * (M_PER_DEG * k)
    distance_sq = dy * dy + dx * dx
    current = _state_column(now)
    stmt = (sa.select(*_nearby_columns(), current.label("state"), distance_sq.label("distance_sq"))
            .join(BkResource, BkResource.id == EvPile.resource_id)
            .where(EvPile.active.is_(True), EvPile.lat.between(south, north), EvPile.lon.between(west, east),
                   distance_sq <= radius_m * radius_m))
    if state == "free":  # the index-friendly form of "state = free"
        stmt = stmt.where(EvPile.status == "free", EvPile.status_at > now - SILENT_AFTER)
    elif state is not None:
        stmt = stmt.where(current == state)
    if connector is not None:
        stmt = stmt.where(EvPile.connector == connector)
    if min_power_kw is not None:
        stmt = stmt.where(EvPile.power_kw >= min_power_kw)
    return stmt.order_by(distance_sq, EvPile.id)


def nearby_view(row: Any, now: datetime) -> dict[str, Any]:
    """One row of ``nearby`` as the API shows it (distance to the metre, the price now)."""
    energy = energy_price(row.energy_fen_per_kwh, row.tou or (), now)
    return {"code": row.code, "station": row.station, "name": row.name, "address": row.address,
            "lat": row.lat, "lon": row.lon, "power_kw": row.power_kw, "connector": row.connector,
            "state": row.state, "distance_m": round(math.sqrt(row.distance_sq)), "resource": row.resource,
            "tariff": {"energy_fen_per_kwh": row.energy_fen_per_kwh, "service_fen_per_kwh": row.service_fen_per_kwh,
                       "tou": row.tou or [], "now_fen_per_kwh": energy + row.service_fen_per_kwh}}


def pile_view(pile: EvPile, now: datetime, resource_code: str | None = None) -> dict[str, Any]:
    """A pile as its operator sees it."""
    return {"code": pile.code, "station": pile.station, "name": pile.name, "address": pile.address,
            "lat": pile.lat, "lon": pile.lon, "power_kw": pile.power_kw, "connector": pile.connector,
            "state": state_of(pile, now), "reported_at": pile.status_at, "resource": resource_code,
            "tariff": {"energy_fen_per_kwh": pile.energy_fen_per_kwh, "service_fen_per_kwh": pile.service_fen_per_kwh,
                       "tou": pile.tou or [],
                       "now_fen_per_kwh": energy_price(pile.energy_fen_per_kwh, pile.tou or (), now)
                       + pile.service_fen_per_kwh}}


def of_operator(org_id: int, *, state: str | None, now: datetime) -> sa.Select:
    stmt = (sa.select(EvPile, BkResource.code).join(BkResource, BkResource.id == EvPile.resource_id)
            .where(EvPile.operator_org_id == org_id))
    if state is not None:
        stmt = stmt.where(_state_column(now) == state)
    return stmt.order_by(EvPile.station, EvPile.code)
