"""The community list behind ``GET /api/v1/communities``: SQL, or a per-process snapshot.

The list is the mini-program's address picker: read very often, changed almost never (it
is reference data, loaded by ``flask seed demo``). A query costs more than the rest of the
request, so each process keeps a snapshot of the 252 rows for ``PLACES_CACHE_SECONDS``
(30 by default; 0 turns it off, the default under ``APP_ENV=test``) and filters and pages
it in memory. A change made by another process shows within that many seconds; one made in
this process by ``load_reference`` shows at once (``invalidate``). Nothing else depends on
the snapshot: it is a cache of the database, never a source of truth.

Both paths give the same answers: case-insensitive substring match of ``q`` on the name or
the address (LIKE wildcards taken literally), order by code, the same page metadata.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import ApiError
from app.places.models import Community
from auth.organisations import TOWN_LEVEL_TYPES, Organisation

_generation = 0
_C = Community.__table__
_O = Organisation.__table__
_TOWN = _O.alias("town")
_COLUMNS = (_C.c.code, _C.c.name, _C.c.address, _C.c.lat, _C.c.lon, _C.c.households, _C.c.generated,
            _TOWN.c.code, _TOWN.c.name)
_FROM = _C.join(_TOWN, _TOWN.c.id == _C.c.town_id)
_MAX_CACHED_PAGES = 1024


def invalidate() -> None:
    """Drop every snapshot in this process (called after reference data is written)."""
    global _generation
    _generation += 1


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's wildcards in ``text`` taken literally (escape character ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def unknown_town(town: str) -> ApiError:
    return ApiError("validation_error", errors={"town": [f"未知的街镇代码：{town}"]})


def _item(r: Any) -> dict[str, Any]:
    return {
        "code": r[0], "name": r[1], "address": r[2], "lat": r[3], "lon": r[4], "households": r[5],
        "generated": bool(r[6]), "town": {"code": r[7], "name": r[8]},
    }


def _town_exists(session: Session, code: str) -> bool:
    return session.scalar(
        sa.select(_O.c.id).where(_O.c.code == code, _O.c.type.in_(TOWN_LEVEL_TYPES))
    ) is not None


def sql_page(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    """One page and the total in one query (``count(*) OVER ()``); plain columns, no ORM objects."""
    page, size = args["page"], args["page_size"]
    where = []
    town, q = args.get("town"), args.get("q")
    if town:
        where.append(_TOWN.c.code == town)
    if q:
        pattern = like_pattern(q)
        where.append(sa.or_(_C.c.name.ilike(pattern, escape="\\"), _C.c.address.ilike(pattern, escape="\\")))
    base = sa.select(*_COLUMNS).select_from(_FROM).where(*where)
    stmt = base.add_columns(sa.func.count().over().label("total")).order_by(_C.c.code)
    rows = session.execute(stmt.limit(size).offset((page - 1) * size)).all()
    if rows:
        total = rows[0].total
    elif page == 1:
        total = 0
    else:  # past the last page the window sees no rows: count apart
        total = session.scalar(sa.select(sa.func.count()).select_from(base.subquery())) or 0
    if town and total == 0 and not _town_exists(session, town):
        raise unknown_town(town)
    return {"items": [_item(r) for r in rows], "page": page, "page_size": size, "total": total}


@dataclass(frozen=True)
class _Snapshot:
    items: tuple[dict[str, Any], ...]
    keys: tuple[tuple[str, str, str], ...]  # (town code, lower name, lower address)
    towns: frozenset[str]
    taken_at: float
    generation: int


class CommunityDirectory:
    """Pages of the community list; from a snapshot when ``ttl`` > 0, else from SQL."""

    def __init__(self, ttl: float, now: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._now = now
        self._snapshot: _Snapshot | None = None
        self._pages: dict[tuple, bytes] = {}
        self._lock = threading.Lock()

    def _fresh(self, session: Session) -> _Snapshot:
        snap = self._snapshot
        if snap is not None and snap.generation == _generation and self._now() - snap.taken_at < self.ttl:
            return snap
        with self._lock:
            snap = self._snapshot
            if snap is not None and snap.generation == _generation and self._now() - snap.taken_at < self.ttl:
                return snap
            generation, taken_at = _generation, self._now()
            rows = session.execute(sa.select(*_COLUMNS).select_from(_FROM).order_by(_C.c.code)).all()
            towns = session.scalars(sa.select(_O.c.code).where(_O.c.type.in_(TOWN_LEVEL_TYPES))).all()
            snap = _Snapshot(
                items=tuple(_item(r) for r in rows),
                keys=tuple((r[7], (r[1] or "").lower(), (r[2] or "").lower()) for r in rows),
                towns=frozenset(towns), taken_at=taken_at, generation=generation,
            )
            self._snapshot = snap
            self._pages = {}
            return snap

    def page(self, session: Session, args: dict[str, Any]) -> dict[str, Any]:
        if self.ttl <= 0:
            return sql_page(session, args)
        snap = self._fresh(session)
        page, size = args["page"], args["page_size"]
        town, q = args.get("town"), args.get("q")
        if town and town not in snap.towns:
            raise unknown_town(town)
        ql = q.lower() if q else None
        matched = [
            item for item, (t, name, address) in zip(snap.items, snap.keys, strict=True)
            if (not town or t == town) and (ql is None or ql in name or ql in address)
        ]
        start = (page - 1) * size
        return {"items": matched[start:start + size], "page": page, "page_size": size, "total": len(matched)}

    def page_json(self, session: Session, args: dict[str, Any]) -> bytes:
        """The page as JSON bytes, memoised per query while the snapshot lasts."""
        if self.ttl <= 0:
            return _dumps(sql_page(session, args))
        snap = self._fresh(session)
        key = (snap.generation, snap.taken_at, args.get("town"), args.get("q"), args["page"], args["page_size"])
        body = self._pages.get(key)
        if body is None:
            body = _dumps(self.page(session, args))
            if len(self._pages) >= _MAX_CACHED_PAGES:
                self._pages.clear()
            self._pages[key] = body
        return body


def _dumps(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
