"""Search of published entries: text, category, place, price range, distance; paginated.

Text is one ``LIKE '%q%'`` on ``search_text`` (lower-cased): PostgreSQL serves it from a
``pg_trgm`` GIN index (trigrams work on Chinese characters without a word segmenter; a query
shorter than three characters falls back to a scan), SQLite scans. Distance: a bounding box the
indexes can use, then the equirectangular distance in SQL (within a few metres of the
great-circle one at 5 km), so the page and the total count only entries inside the circle.
Order: the scenario's ``rank`` first (recommended entries), then nearest (with a point) or newest.

One statement a page (``page``): the entries and, beside each, the total count of the match
(``count(*) OVER ()``, computed before the limit), instead of a count query and a page query;
only a page past the end, which has no row to carry it, counts on its own. The answer is sent as
built (``answer``): the view of each entry is already what ``ListingSchema`` documents, and
dumping 20 of them through marshmallow cost a quarter of the request.

Plans on PostgreSQL (``custom_plans``): psycopg prepares a statement run five times, and after
five custom plans PostgreSQL may keep a generic one, planned without the values. For a search
the generic plan guesses a bounding box is very selective and scans the position index,
filtering thousands of rows (10 ms for a village + rent + 5 km over 20,000 rooms) where the
plan with the values takes the place index (2 ms). So a search asks for custom plans in its
transaction (``SET LOCAL plan_cache_mode``): the same statements and answers, planned per call.
"""
from __future__ import annotations

import json
import math
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask import Response
from sqlalchemy.orm import Session

from app.fields import CST
from app.geo import bounding_box, m_per_deg_lon, planar_sq_m2
from scenarios.engines.listing.config import ListingConfig
from scenarios.engines.listing.models import LsEntry


def distance_sq_m2(lat: Any, lon: Any, kx: Any) -> sa.ColumnElement[float]:
    """Squared distance (m²) from (lat, lon) to an entry, equirectangular (``kx``: metres per
    degree of longitude there, ``app.geo.m_per_deg_lon``)."""
    return planar_sq_m2(LsEntry.lat, LsEntry.lon, lat, lon, kx)


FILTERS = ("q", "category", "place", "price_min", "price_max", "point", "radius")


@cache
def _shape(slug: str, present: frozenset[str]) -> sa.Select[Any]:
    """The ordered select of published entries of ``slug`` with the filters ``present``, every value
    a bound parameter (``_values``): built once per shape, not per search."""
    p = sa.bindparam
    stmt = sa.select(LsEntry).where(LsEntry.scenario == slug, LsEntry.state == "published")
    if "q" in present:
        stmt = stmt.where(LsEntry.search_text.like(p("q_pattern", type_=sa.String), escape="/"))
    if "category" in present:
        stmt = stmt.where(LsEntry.category == p("category", type_=sa.String))
    if "place" in present:
        stmt = stmt.where(LsEntry.place == p("place", type_=sa.String))
    if "price_min" in present:
        stmt = stmt.where(LsEntry.price_fen >= p("price_min", type_=sa.BigInteger))
    if "price_max" in present:
        stmt = stmt.where(LsEntry.price_fen <= p("price_max", type_=sa.BigInteger))
    order: list[Any] = [LsEntry.rank.desc()]
    if "point" in present:
        distance = distance_sq_m2(p("lat", type_=sa.Float), p("lon", type_=sa.Float), p("kx", type_=sa.Float))
        if "radius" in present:
            stmt = stmt.where(LsEntry.lat.between(p("south", type_=sa.Float), p("north", type_=sa.Float)),
                              LsEntry.lon.between(p("west", type_=sa.Float), p("east", type_=sa.Float)),
                              distance <= p("radius_sq", type_=sa.Float))
        order.append(distance.asc())
    order += [LsEntry.published_at.desc(), LsEntry.id.desc()]
    return stmt.order_by(*order)


@cache
def _page_of_shape(slug: str, present: frozenset[str]) -> sa.Select[Any]:
    """The shape's page with the match's total beside each row (``count(*) OVER ()``)."""
    return (_shape(slug, present).add_columns(sa.func.count().over().label("total"))
            .limit(sa.bindparam("limit", type_=sa.Integer)).offset(sa.bindparam("offset", type_=sa.Integer)))


def _like_pattern(text: str) -> str:
    """``%text%`` with LIKE's wildcards literal (escape ``/``, as ``contains(autoescape=True)``)."""
    return "%" + text.lower().replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def _values(*, q: str | None = None, category: str | None = None, place: str | None = None,
            price_min: int | None = None, price_max: int | None = None, lat: float | None = None,
            lon: float | None = None, radius_m: float | None = None) -> tuple[frozenset[str], dict[str, Any]]:
    """Which filters a search has (its shape) and their parameters."""
    values: dict[str, Any] = {}
    if q:
        values["q_pattern"] = _like_pattern(q)
    for name, value in (("category", category), ("place", place)):
        if value:
            values[name] = value
    for name, value in (("price_min", price_min), ("price_max", price_max)):
        if value is not None:
            values[name] = value
    present = {k for k in values if k != "q_pattern"} | ({"q"} if q else set())
    if lat is not None and lon is not None:
        present.add("point")
        values |= {"lat": lat, "lon": lon, "kx": m_per_deg_lon(lat)}
        if radius_m is not None:
            present.add("radius")
            south, west, north, east = bounding_box(lat, lon, radius_m)
            values |= {"south": south, "north": north, "west": west, "east": east, "radius_sq": radius_m * radius_m}
    return frozenset(present), values


def query(config: ListingConfig, **filters: Any) -> sa.Select[Any]:
    """The ordered select of published entries of ``config``'s scenario matching the filters
    (``q``, ``category``, ``place``, ``price_min``, ``price_max``, ``lat``, ``lon``, ``radius_m``)."""
    present, values = _values(**filters)
    return _shape(config.slug, present).params(values)


def page(session: Session, config: ListingConfig, filters: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """``app.api.paginate``'s answer for a search, in one statement (see the module docstring)."""
    present, values = _values(**filters)
    number, size = args["page"], args["page_size"]
    rows = session.execute(_page_of_shape(config.slug, present),
                           {**values, "limit": size, "offset": (number - 1) * size}).all()
    if rows:
        total = rows[0].total
    elif number > 1:
        total = session.scalar(sa.select(sa.func.count()).select_from(_shape(config.slug, present).order_by(None)
                                                                      .subquery()), values)
    else:
        total = 0
    return {"items": [r[0] for r in rows], "page": number, "page_size": size, "total": total or 0}


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):  # as ``app.fields.DateTime`` dumps it
        return value.astimezone(CST).isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def answer(page_: dict[str, Any]) -> Response:
    """The page of entry views as JSON, as ``page_of(ListingSchema)`` would dump it (a test holds
    them equal)."""
    return Response(json.dumps(page_, ensure_ascii=False, default=_json_default), mimetype="application/json")


def custom_plans(session: Session) -> None:
    """On PostgreSQL, plan this transaction's statements with their values (see the module docstring)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))


def distance_m(entry: LsEntry, lat: float | None, lon: float | None) -> int | None:
    if lat is None or lon is None or entry.lat is None or entry.lon is None:
        return None
    return round(math.sqrt(planar_sq_m2(entry.lat, entry.lon, lat, lon, m_per_deg_lon(lat))))
