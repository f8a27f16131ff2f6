"""Piles as drivers and operators see them: their state now, nearby search, whether one may be
reserved.

A pile's state is its device's latest status reading (mirrored on ``ev_piles`` by the telemetry
hook) while that reading is younger than ``SILENT_AFTER``; older, the pile is ``offline``: its
state is unknown, never ``free``. This is decided when read, so a late worker changes nothing.
"""
from __future__ import annotations

import json
import math
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import ApiError
from app.geo import bounding_box, m_per_deg_lon, planar_sq_m2
from scenarios.engines.booking.models import BkResource, BkSlot
from scenarios.ev_charging.models import SILENT_AFTER, EvPile
from scenarios.ev_charging.tariff import energy_price

MAX_RADIUS_M = 20_000


def state_of(pile: Any, now: datetime) -> str:
    """``free``, ``charging``, ``fault`` or ``offline`` (silent, or marked offline by the worker)."""
    if pile.status_at is None or now - pile.status_at > SILENT_AFTER:
        return "offline"
    return pile.status


def _state_column(now: datetime) -> sa.ColumnElement[str]:
    """The state at ``now`` in SQL (``state_of``'s rule)."""
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
def _nearby_statement(state: str | None, connector: bool, min_power: bool) -> sa.Select:
    """Built once per filter combination (nearby is the hottest read): active piles in the box
    (``south``…``east``, which the ``(lat, lon)`` index serves) within ``radius_sq`` of the point by
    the equirectangular distance (``kx``: metres per degree of longitude there), nearest first,
    with their state at ``cutoff`` (now − ``SILENT_AFTER``) and the page's total in the same row."""
    p, r = EvPile.__table__.c, BkResource.__table__.c
    at = p.status_at.type
    d2 = planar_sq_m2(p.lat, p.lon, sa.bindparam("lat"), sa.bindparam("lon"), sa.bindparam("kx"))
    distance_sq = d2.label("distance_sq")
    fresh = p.status_at > sa.bindparam("cutoff", type_=at)
    current = sa.case((fresh, p.status), else_=sa.literal("offline")).label("state")
    stmt = (sa.select(p.code, p.station, p.name, p.address, p.lat, p.lon, p.power_kw, p.connector,
                      p.energy_fen_per_kwh, p.service_fen_per_kwh, sa.type_coerce(p.tou, sa.Text).label("tou"),
                      r.code.label("resource"), current,
                      distance_sq, sa.func.count().over().label("total"))
            .join_from(EvPile.__table__, BkResource.__table__, r.id == p.resource_id)
            .where(p.active.is_(True), p.lat.between(sa.bindparam("south"), sa.bindparam("north")),
                   p.lon.between(sa.bindparam("west"), sa.bindparam("east")),
                   d2 <= sa.bindparam("radius_sq")))
    if state == "free":  # the index-friendly form of "state = free"
        stmt = stmt.where(p.status == "free", fresh)
    elif state is not None:
        stmt = stmt.where(sa.case((fresh, p.status), else_=sa.literal("offline")) == sa.bindparam("state"))
    if connector:
        stmt = stmt.where(p.connector == sa.bindparam("connector"))
    if min_power:
        stmt = stmt.where(p.power_kw >= sa.bindparam("min_power_kw"))
    return (stmt.order_by(sa.literal_column("distance_sq"), p.id)
            .limit(sa.bindparam("limit")).offset(sa.bindparam("offset")))


def nearby(session: Session, *, lat: float, lon: float, radius_m: float, now: datetime, page: int, page_size: int,
           state: str | None = None, connector: str | None = None, min_power_kw: int | None = None
           ) -> dict[str, Any]:
    """Active piles within ``radius_m`` of (lat, lon), nearest first, with their state now, as a
    page (``items`` as the API shows them, ``total``). One statement: a bounding box, then the
    equirectangular distance (within a few metres of the great-circle one at 20 km)."""
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise ApiError("validation_error", errors={"radius_m": [f"1 到 {MAX_RADIUS_M} 米。"]})
    south, west, north, east = bounding_box(lat, lon, radius_m)
    params = {"lat": lat, "lon": lon, "kx": m_per_deg_lon(lat), "south": south,
              "north": north, "west": west, "east": east, "radius_sq": radius_m * radius_m,
              "cutoff": now - SILENT_AFTER, "state": state, "connector": connector, "min_power_kw": min_power_kw,
              "limit": page_size, "offset": (page - 1) * page_size}
    stmt = _nearby_statement(state if state in (None, "free") else "other", connector is not None,
                             min_power_kw is not None)
    rows = session.connection().execute(stmt, params).all()  # Core: no ORM round for a select of columns
    if rows:
        total = rows[0].total
    elif page > 1:  # past the last page: count without one
        total = session.execute(stmt.with_only_columns(sa.func.count()).order_by(None).limit(None).offset(None),
                                params).scalar_one()
    else:
        total = 0
    return {"items": [nearby_view(row, now) for row in rows], "page": page, "page_size": page_size,
            "total": total}


@lru_cache(maxsize=256)
def _parsed(text: str) -> list[dict[str, int]]:
    return json.loads(text)


def _bands(value: str | list | None) -> list[dict[str, int]]:
    """A tariff's bands as selected: JSON text on SQLite (piles share a few tariffs: parsed once
    each), already decoded by the driver on PostgreSQL."""
    return _parsed(value) if isinstance(value, str) else (value or [])


def nearby_view(row: Any, now: datetime) -> dict[str, Any]:
    """One row of ``nearby`` as the API shows it (distance to the metre, the price now)."""
    bands = _bands(row.tou)
    energy = energy_price(row.energy_fen_per_kwh, bands, now)
    return {"code": row.code, "station": row.station, "name": row.name, "address": row.address,
            "lat": row.lat, "lon": row.lon, "power_kw": row.power_kw, "connector": row.connector,
            "state": row.state, "distance_m": round(math.sqrt(row.distance_sq)), "resource": row.resource,
            "tariff": {"energy_fen_per_kwh": row.energy_fen_per_kwh, "service_fen_per_kwh": row.service_fen_per_kwh,
                       "tou": bands, "now_fen_per_kwh": energy + row.service_fen_per_kwh}}


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
