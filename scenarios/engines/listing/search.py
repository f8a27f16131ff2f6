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
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Response
from sqlalchemy.orm import Session

from app.fields import CST
from app.geo import bounding_box
from scenarios.engines.listing.config import ListingConfig
from scenarios.engines.listing.models import LsEntry

M_PER_DEG = 111_320.0


def distance_sq_m2(lat: float, lon: float) -> sa.ColumnElement[float]:
    """Squared distance (m²) from (lat, lon) to an entry, equirectangular."""
    k = math.cos(math.radians(lat))
    dy = (LsEntry.lat - lat) * M_PER_DEG
    dx = (LsEntry.lon - lon) * (M_PER_DEG * k)
    return dy * dy + dx * dx


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


def page(session: Session, stmt: sa.Select[Any], args: dict[str, Any]) -> dict[str, Any]:
    """``app.api.paginate``'s answer for a search in one statement (see the module docstring)."""
    number, size = args["page"], args["page_size"]
    rows = session.execute(stmt.add_columns(sa.func.count().over().label("total"))
                           .limit(size).offset((number - 1) * size)).all()
    if rows:
        total = rows[0].total
    elif number > 1:
        total = session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
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
    k = math.cos(math.radians(lat))
    return round(math.hypot((entry.lat - lat) * M_PER_DEG, (entry.lon - lon) * M_PER_DEG * k))
