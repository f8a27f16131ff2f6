"""A village's area (WGS84): a polygon, or a centre and a radius, in the reference data.

``Village.attributes["area"]`` is either ``{"polygon": [[lon, lat], ...]}`` (one exterior ring,
GeoJSON order) or ``{"radius_m": 1200}`` around the village's centre (``lat``/``lon``); a village
without one has a 1,500 m circle. ``village_area`` turns that into an ``Area`` that answers
"is this point in the village" and gives a bounding box for an index-friendly prefilter in SQL.
Malformed areas are refused when the data is loaded (``parse_area``), never at a request.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from app.geo import Polygon, bounding_box, haversine_m

DEFAULT_RADIUS_M = 1500.0
MAX_RADIUS_M = 20_000.0


@dataclass(frozen=True)
class Area:
    """A circle (``radius_m`` around ``lat``/``lon``) or a ``polygon``."""

    lat: float
    lon: float
    radius_m: float | None = None
    polygon: Polygon | None = None

    def contains(self, lat: float | None, lon: float | None) -> bool:
        if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
            return False
        if self.polygon is not None:
            return self.polygon.contains(lat, lon)
        return haversine_m(self.lat, self.lon, lat, lon) <= (self.radius_m or DEFAULT_RADIUS_M)

    def bbox(self) -> tuple[float, float, float, float]:
        """``(min_lat, min_lon, max_lat, max_lon)``."""
        if self.polygon is not None:
            min_lon, min_lat, max_lon, max_lat = self.polygon.bbox
            return min_lat, min_lon, max_lat, max_lon
        return bounding_box(self.lat, self.lon, self.radius_m or DEFAULT_RADIUS_M)


class AreaError(ValueError):
    """An area the reference data or a CSV row may not hold (the message says why)."""


def _point(value: Any) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise AreaError("a polygon's point is [lon, lat]")
    lon, lat = (float(v) for v in value)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise AreaError("a polygon's point is out of range")
    return lon, lat


def parse_area(raw: Any) -> dict[str, Any] | None:
    """The normalised ``area`` attribute (``None`` when absent); raises ``AreaError``."""
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict) or len(raw) != 1 or not {"radius_m", "polygon"} & set(raw):
        raise AreaError("an area is {\"radius_m\": metres} or {\"polygon\": [[lon, lat], ...]}")
    if "radius_m" in raw:
        radius = raw["radius_m"]
        if isinstance(radius, bool) or not isinstance(radius, int | float) or not 0 < radius <= MAX_RADIUS_M:
            raise AreaError(f"radius_m is a number of metres in (0, {MAX_RADIUS_M:.0f}]")
        return {"radius_m": radius}
    ring = raw["polygon"]
    if not isinstance(ring, list) or len(ring) < 3:
        raise AreaError("a polygon has at least 3 points")
    points = [_point(p) for p in ring]
    if len(set(points)) < 3:
        raise AreaError("a polygon has at least 3 distinct points")
    return {"polygon": [list(p) for p in points]}


def village_area(village: Any) -> Area:
    """The area of a village (anything with ``lat``, ``lon`` and ``attributes``)."""
    raw = (village.attributes or {}).get("area") or {}
    if raw.get("polygon"):
        return Area(village.lat, village.lon, polygon=Polygon([tuple(p) for p in raw["polygon"]]))
    return Area(village.lat, village.lon, radius_m=float(raw.get("radius_m") or DEFAULT_RADIUS_M))
