"""Roads: by code, or the nearest one to a point; a road's chief.

Distances to a road are to its polyline, on an equirectangular projection around the point
(a few metres off over a few kilometres: plenty for "which road is this"). Candidates come
from the bounding boxes in SQL, widened by the radius.
"""
from __future__ import annotations

import math
from itertools import pairwise

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.geo import EARTH_RADIUS_M, bounding_box
from auth.models import Account, Membership
from scenarios.road_report.models import Road

CHIEF_ROLE = "road_chief"
DEFAULT_RADIUS_M = 150.0


def match_radius_m() -> float:
    """``ROAD_MATCH_RADIUS_M`` (metres, default 150): how far a point may be from its road."""
    try:
        from flask import current_app

        value = current_app.extensions["settings"].get("ROAD_MATCH_RADIUS_M")
    except (RuntimeError, KeyError):
        value = None
    try:
        return float(value) if value else DEFAULT_RADIUS_M
    except ValueError:
        return DEFAULT_RADIUS_M


def distance_to_polyline_m(lat: float, lon: float, points: list[list[float]]) -> float:
    k = math.radians(1) * EARTH_RADIUS_M
    cos0 = math.cos(math.radians(lat))

    def xy(p: list[float]) -> tuple[float, float]:
        return (p[1] - lon) * k * cos0, (p[0] - lat) * k

    pts = [xy(p) for p in points]
    if len(pts) == 1:
        return math.hypot(*pts[0])
    best = math.inf
    for (ax, ay), (bx, by) in pairwise(pts):
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
        best = min(best, math.hypot(ax + t * dx, ay + t * dy))
    return best


def active_roads() -> sa.Select:
    """The roads one may report on (and publish notices for), by code."""
    return sa.select(Road).where(Road.active.is_(True)).order_by(Road.code)


def road_by_code(session: Session, code: str) -> Road | None:
    return session.scalar(sa.select(Road).where(Road.code == code, Road.active.is_(True)))


def nearest_road(session: Session, lat: float, lon: float, radius_m: float) -> tuple[Road, float] | None:
    min_lat, min_lon, max_lat, max_lon = bounding_box(lat, lon, radius_m)
    candidates = session.scalars(sa.select(Road).where(
        Road.active.is_(True), Road.min_lat <= max_lat, Road.max_lat >= min_lat,
        Road.min_lon <= max_lon, Road.max_lon >= min_lon))
    found = sorted(((distance_to_polyline_m(lat, lon, r.points), r.code, r) for r in candidates),
                   key=lambda x: (x[0], x[1]))
    if not found or found[0][0] > radius_m:
        return None
    return found[0][2], found[0][0]


def chief_account_id(session: Session, road: Road) -> int | None:
    """The road's chief, while their membership and account are active."""
    if road.chief_membership_id is None:
        return None
    return session.scalar(sa.select(Membership.account_id).join(Account, Account.id == Membership.account_id).where(
        Membership.id == road.chief_membership_id, Membership.role == CHIEF_ROLE, Membership.status == "active",
        Account.status == "active"))
