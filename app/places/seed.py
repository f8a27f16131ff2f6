"""Load the reference organisations and places (``app/places/data/*.json``) into the database.

Upserts by natural key (``code``; a building by community and number; an assignment by
community, company and start date): rows missing are inserted in bulk, rows that differ are
updated in bulk, rows equal to the reference are not touched (so a second run changes
nothing, ``updated_at`` included). Rows that are not in the reference (made by staff
through the API) are left alone, never deleted.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import Database, utcnow
from app.places.directory import invalidate
from app.places.models import Building, Community, ManagementAssignment, Village
from auth.organisations import Organisation

DATA_DIR = Path(__file__).resolve().parent / "data"

REFERENCE_TABLES: tuple[str, ...] = (
    "organisations",
    "communities",
    "buildings",
    "management_assignments",
    "villages",
)


@lru_cache(maxsize=1)
def reference_data() -> dict[str, list[dict[str, Any]]]:
    """The committed JSON files, parsed once per process."""
    return {
        name: json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))
        for name in ("organisations", "communities", "villages")
    }


class _Stats:
    def __init__(self) -> None:
        self.inserted = 0
        self.updated = 0


def _upsert(session: Session, model: type, key: Sequence[str], fields: Sequence[str],
            rows: list[dict[str, Any]], stats: _Stats, *, timestamps: bool = True,
            uncounted: frozenset[tuple] = frozenset()) -> dict[tuple, int]:
    """Insert missing rows, update differing ones; return {key tuple: id} of the whole table.

    Updates of rows whose key is in ``uncounted`` (just inserted, now linked) are not counted.
    """
    table = model.__table__
    cols = [table.c.id, *(table.c[k] for k in key), *(table.c[f] for f in fields)]
    existing: dict[tuple, Any] = {}
    for rec in session.execute(sa.select(*cols)).mappings():
        existing[tuple(rec[k] for k in key)] = rec

    to_insert, to_update = [], []
    for row in rows:
        k = tuple(row[c] for c in key)
        current = existing.get(k)
        if current is None:
            to_insert.append(row)
        elif any(current[f] != row[f] for f in fields):
            change = {"id": current["id"], **{f: row[f] for f in fields}}
            if timestamps:
                change["updated_at"] = utcnow()
            to_update.append(change)
            stats.updated += k not in uncounted
    if to_insert:
        session.execute(sa.insert(model), to_insert)
        stats.inserted += len(to_insert)
    if to_update:
        session.execute(sa.update(model), to_update)
    if not to_insert:
        return {k: rec["id"] for k, rec in existing.items()}
    ids = session.execute(sa.select(table.c.id, *(table.c[c] for c in key))).all()
    return {tuple(r[1:]): r[0] for r in ids}


def _ids(mapping: dict[tuple, int]) -> dict[str, int]:
    return {k[0]: v for k, v in mapping.items()}


def _load(session: Session) -> dict[str, int]:
    data = reference_data()
    stats = _Stats()

    orgs = data["organisations"]
    org_rows = [{"code": o["code"], "name": o["name"], "type": o["type"], "generated": o["generated"],
                 "attributes": o["attributes"]} for o in orgs]
    known = set(session.scalars(sa.select(Organisation.code)))
    org_ids = _ids(_upsert(session, Organisation, ("code",), ("name", "type", "generated", "attributes"),
                           org_rows, stats))
    fresh = frozenset((o["code"],) for o in orgs if o["code"] not in known)
    links = [{"code": o["code"],
              "parent_id": org_ids[o["parent"]] if o["parent"] else None,
              "supervisor_id": org_ids[o["supervisor"]] if o["supervisor"] else None} for o in orgs]
    _upsert(session, Organisation, ("code",), ("parent_id", "supervisor_id"), links, stats, uncounted=fresh)

    communities = data["communities"]
    community_rows = [{
        "code": c["code"], "name": c["name"], "town_id": org_ids[c["town"]],
        "committee_id": org_ids[c["committee"]] if c["committee"] else None,
        "fallback_owner_id": org_ids[c["fallback_owner"]], "address": c["address"],
        "lat": c["lat"], "lon": c["lon"], "households": c["households"], "generated": c["generated"],
    } for c in communities]
    community_ids = _ids(_upsert(
        session, Community, ("code",),
        ("name", "town_id", "committee_id", "fallback_owner_id", "address", "lat", "lon", "households",
         "generated"),
        community_rows, stats))

    building_rows = [{"community_id": community_ids[c["code"]], "number": b["number"], "floors": b["floors"],
                      "rooms_per_floor": b["rooms_per_floor"]}
                     for c in communities for b in c["buildings"]]
    _upsert(session, Building, ("community_id", "number"), ("floors", "rooms_per_floor"), building_rows, stats,
            timestamps=False)

    assignment_rows = [{
        "community_id": community_ids[c["code"]], "company_id": org_ids[a["company"]],
        "valid_from": date.fromisoformat(a["valid_from"]),
        "valid_to": date.fromisoformat(a["valid_to"]) if a["valid_to"] else None,
    } for c in communities for a in c["assignments"]]
    _upsert(session, ManagementAssignment, ("community_id", "company_id", "valid_from"), ("valid_to",),
            assignment_rows, stats)

    villages = data["villages"]
    village_rows = [{
        "code": v["code"], "name": v["name"], "town_id": org_ids[v["town"]],
        "committee_id": org_ids[v["committee"]], "lat": v["lat"], "lon": v["lon"],
        "house_count": v["house_count"], "demonstration": v["demonstration"], "generated": v["generated"],
        "attributes": v["attributes"],
    } for v in villages]
    _upsert(session, Village, ("code",),
            ("name", "town_id", "committee_id", "lat", "lon", "house_count", "demonstration", "generated",
             "attributes"),
            village_rows, stats)

    return {
        "organisations": len(org_rows),
        "communities": len(community_rows),
        "buildings": len(building_rows),
        "management_assignments": len(assignment_rows),
        "villages": len(village_rows),
        "inserted": stats.inserted,
        "updated": stats.updated,
    }


def load_reference(database: Database) -> dict[str, int]:
    """Upsert the reference data in one transaction; returns reference row counts and changes."""
    with database.transaction() as session:
        counts = _load(session)
    if counts["inserted"] or counts["updated"]:
        invalidate()
    return counts


def reference_codes(kind: str) -> Iterable[str]:
    """Codes of one kind of reference row (``organisations``, ``communities``, ``villages``)."""
    return (row["code"] for row in reference_data()[kind])
