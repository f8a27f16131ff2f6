"""Search of published entries: text, category, place, price range, distance; paginated.

Text is one ``LIKE '%q%'`` on ``search_text`` (lower-cased): PostgreSQL serves it from a
``pg_trgm`` GIN index (trigrams work on Chinese characters without a word segmenter; a query
shorter than three characters falls back to a scan), SQLite scans. Distance: a bounding box the
indexes can use, then the equirectangular distance in SQL (within a few metres of the
great-circle one at 5 km), so the page and the total count only entries inside the circle.
Order: the scenario's ``rank`` first (recommended entries), then nearest (with a point) or newest.

Plans on PostgreSQL (``custom_plans``): psycopg prepares a statement run five times, and after
five custom plans PostgreSQL may keep a generic one, planned without the values. For a search
the generic plan guesses a bounding box is very selective and scans the position index,
filtering thousands of rows (10 ms for a village + rent + 5 km over 20,000 rooms) where the
plan with the values takes the place index (2 ms). So a search asks for custom plans in its
transaction (``SET LOCAL plan_cache_mode``): the same statements and answers, planned per call.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.geo import bounding_box, m_per_deg_lon, planar_sq_m2
from scenarios.engines.listing.config import ListingConfig
from scenarios.engines.listing.models import LsEntry


def distance_sq_m2(lat: float, lon: float) -> sa.ColumnElement[float]:
    """Squared distance (m²) from (lat, lon) to an entry, equirectangular."""
    return planar_sq_m2(LsEntry.lat, LsEntry.lon, lat, lon, m_per_deg_lon(lat))


def query(config: ListingConfig, *, q: str | None = None, category: str | None = None, place: str | None = None,
          price_min: int | None = None, price_max: int | None = None, lat: float | None = None,
          lon: float | None = None, radius_m: float | None = None,
          where: Iterable[sa.ColumnElement[bool]] = ()) -> sa.Select[Any]:
    """The ordered select of published entries of ``config``'s scenario matching the filters."""
    stmt = sa.select(LsEntry).where(LsEntry.scenario == config.slug, LsEntry.state == "published", *where)
    if q:
        stmt = stmt.where(LsEntry.search_text.contains(q.lower(), autoescape=True))
    if category:
        stmt = stmt.where(LsEntry.category == category)
    if place:
        stmt = stmt.where(LsEntry.place == place)
    if price_min is not None:
        stmt = stmt.where(LsEntry.price_fen >= price_min)
    if price_max is not None:
        stmt = stmt.where(LsEntry.price_fen <= price_max)
    order: list[Any] = [LsEntry.rank.desc()]
    if lat is not None and lon is not None:
        distance = distance_sq_m2(lat, lon)
        if radius_m is not None:
            south, west, north, east = bounding_box(lat, lon, radius_m)
            stmt = stmt.where(LsEntry.lat.between(south, north), LsEntry.lon.between(west, east),
                              distance <= radius_m * radius_m)
        order.append(distance.asc())
    order += [LsEntry.published_at.desc(), LsEntry.id.desc()]
    return stmt.order_by(*order)


def custom_plans(session: Session) -> None:
    """On PostgreSQL, plan this transaction's statements with their values (see the module docstring)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))


def distance_m(entry: LsEntry, lat: float | None, lon: float | None) -> int | None:
    if lat is None or lon is None or entry.lat is None or entry.lon is None:
        return None
    return round(math.sqrt(planar_sq_m2(entry.lat, entry.lon, lat, lon, m_per_deg_lon(lat))))
