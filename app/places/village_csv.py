"""Load the district's full list of villages from a CSV (``flask places load-villages FILE``).

The reference data holds the 10 named villages; the district's list (from the agriculture
bureau) comes as a UTF-8 CSV with a header row::

    code,name,town,lat,lon,house_count,radius_m,polygon
    310116101-v-dongxing,东兴村,朱泾镇,30.905,121.160,420,1200,
    310116103-v-xinlong,新龙村,310116103,30.810,121.300,380,,121.29 30.80;121.31 30.80;121.31 30.82

- ``town``: the town's organisation code or its name (``朱泾镇``);
- ``lat``/``lon``: the village's centre (WGS84), inside the district;
- the area: ``radius_m`` (metres around the centre) *or* ``polygon`` (``lon lat`` points
  separated by ``;``, at least 3), or neither (a 1,500 m circle: ``app.places.areas``);
- optional ``committee``: the committee's organisation code (default: the code with ``-v-``
  turned into ``-vc-``); the committee is created when missing (``<name>村民委员会``, under the
  town, supervised by the agriculture bureau).

Every row is checked before anything is written: a bad row is refused with its line number
and field, and then nothing is loaded. Loading is an upsert by ``code``: a second run of the
same file changes nothing; rows that differ are updated; villages not in the file stay.
"""
from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.geo import inside_district
from app.places.areas import AreaError, parse_area
from app.places.models import Village
from auth.organisations import Organisation

COLUMNS = ("code", "name", "town", "lat", "lon", "house_count", "radius_m", "polygon")
REQUIRED = ("code", "name", "town", "lat", "lon", "house_count")
CODE_RE = re.compile(r"^[0-9a-z][0-9a-z-]{2,63}$")
SUPERVISOR = "310116-bureau-agriculture"
MAX_ROWS = 5000


@dataclass
class VillageRow:
    line: int
    code: str
    name: str
    town_id: int
    committee_code: str
    lat: float
    lon: float
    house_count: int
    area: dict[str, Any] | None


@dataclass
class Parsed:
    rows: list[VillageRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def refuse(self, line: int, column: str, message: str) -> None:
        self.errors.append(f"line {line}: {column}: {message}")


def _number(parsed: Parsed, line: int, column: str, raw: str, low: float, high: float) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        parsed.refuse(line, column, f"not a number: {raw!r}")
        return None
    if not math.isfinite(value) or not low <= value <= high:
        parsed.refuse(line, column, f"out of range [{low:g}, {high:g}]: {raw!r}")
        return None
    return value


def _area(parsed: Parsed, line: int, radius: str, polygon: str) -> tuple[bool, dict[str, Any] | None]:
    if radius and polygon:
        parsed.refuse(line, "radius_m", "give radius_m or polygon, not both")
        return False, None
    try:
        if radius:
            value = float(radius)
            return True, parse_area({"radius_m": int(value) if value.is_integer() else value})
        if polygon:
            points = [p.split() for p in polygon.split(";") if p.strip()]
            if any(len(p) != 2 for p in points):
                raise AreaError("each point is 'lon lat'")
            return True, parse_area({"polygon": [[float(x), float(y)] for x, y in points]})
    except (AreaError, ValueError) as exc:
        parsed.refuse(line, "radius_m" if radius else "polygon", str(exc))
        return False, None
    return True, None


def parse(session: Session, text: str) -> Parsed:
    """Check every row of the CSV ``text``; ``errors`` lists each refusal with its line number."""
    parsed = Parsed()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in (*COLUMNS, "committee")]
    if missing or unknown:
        parsed.refuse(1, "header", f"missing {missing}, unknown {unknown}; expected {','.join(COLUMNS)}")
        return parsed
    towns: dict[str, int] = {}
    for org_id, code, name in session.execute(sa.select(Organisation.id, Organisation.code, Organisation.name)
                                              .where(Organisation.type == "town")):
        towns[code] = towns[name] = org_id
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if len(parsed.rows) + len(parsed.errors) >= MAX_ROWS:
            parsed.refuse(line, "file", f"more than {MAX_ROWS} rows")
            break
        if None in record:  # more cells than the header names
            parsed.refuse(line, "row", "more cells than columns")
            continue
        cell = {k: (v or "").strip() for k, v in record.items()}
        before = len(parsed.errors)
        code, name = cell["code"], cell["name"]
        if not CODE_RE.match(code):
            parsed.refuse(line, "code", f"lower-case letters, digits and '-', 3-64 characters: {code!r}")
        elif code in seen:
            parsed.refuse(line, "code", f"{code} is on line {seen[code]} already")
        else:
            seen[code] = line
        if not 1 <= len(name) <= 200:
            parsed.refuse(line, "name", "1-200 characters")
        town_id = towns.get(cell["town"])
        if town_id is None:
            parsed.refuse(line, "town", f"no such town: {cell['town']!r}")
        lat = _number(parsed, line, "lat", cell["lat"], -90, 90)
        lon = _number(parsed, line, "lon", cell["lon"], -180, 180)
        if lat is not None and lon is not None and not inside_district(lat, lon):
            parsed.refuse(line, "lat", "the centre is not in Jinshan")
        houses = _number(parsed, line, "house_count", cell["house_count"], 1, 100_000)
        if houses is not None and not houses.is_integer():
            parsed.refuse(line, "house_count", "a whole number")
        committee = cell.get("committee") or (code.replace("-v-", "-vc-", 1) if "-v-" in code else f"{code}-vc")
        if not CODE_RE.match(committee):
            parsed.refuse(line, "committee", f"not an organisation code: {committee!r}")
        ok, area = _area(parsed, line, cell.get("radius_m", ""), cell.get("polygon", ""))
        if len(parsed.errors) == before and ok:
            parsed.rows.append(VillageRow(line, code, name, town_id, committee, lat, lon, int(houses), area))
    if not parsed.rows and not parsed.errors:
        parsed.refuse(2, "file", "no villages")
    return parsed


def _committee(session: Session, row: VillageRow, supervisor_id: int | None, counts: dict[str, int]) -> Organisation:
    org = session.scalar(sa.select(Organisation).where(Organisation.code == row.committee_code))
    if org is None:
        org = Organisation(code=row.committee_code, name=f"{row.name}村民委员会"[:200], type="village_committee",
                           parent_id=row.town_id, supervisor_id=supervisor_id, generated=False,
                           attributes={"source": "village csv"})
        session.add(org)
        session.flush()
        counts["committees_created"] += 1
    elif org.type != "village_committee":
        raise ValueError(f"line {row.line}: committee: {row.committee_code} is a {org.type}, not a committee")
    other = session.scalar(sa.select(Village.code).where(Village.committee_id == org.id, Village.code != row.code))
    if other is not None:
        raise ValueError(f"line {row.line}: committee: {row.committee_code} is the committee of {other} already")
    return org


def load(session: Session, rows: list[VillageRow]) -> dict[str, int]:
    """Upsert the villages by code (and their committees); returns what changed."""
    counts = {"villages": len(rows), "inserted": 0, "updated": 0, "unchanged": 0, "committees_created": 0}
    supervisor_id = session.scalar(sa.select(Organisation.id).where(Organisation.code == SUPERVISOR))
    existing = {v.code: v for v in session.scalars(sa.select(Village).where(Village.code.in_([r.code for r in rows])))}
    for row in rows:
        committee = _committee(session, row, supervisor_id, counts)
        village = existing.get(row.code)
        attributes = dict(village.attributes or {}) if village else {"source": "village csv"}
        attributes.pop("area", None)
        if row.area:
            attributes["area"] = row.area
        values = {"name": row.name, "town_id": row.town_id, "committee_id": committee.id, "lat": row.lat,
                  "lon": row.lon, "house_count": row.house_count, "attributes": attributes}
        if village is None:
            session.add(Village(code=row.code, demonstration=False, generated=False, **values))
            counts["inserted"] += 1
        elif any(getattr(village, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(village, k, v)
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
        session.flush()
    return counts
