"""Distances and the district polygon (all coordinates WGS84, degrees).

``inside_district`` decides what counts as "inside Jinshan" from a coarse, hand-drawn
polygon of the district's land (``app/places/data/jinshan_district.geojson``): good to a
kilometre or two, enough to refuse a location in Pudong, Zhejiang or Hangzhou Bay, not a
cadastral boundary.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.errors import ApiError

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
DISTRICT_GEOJSON = Path(__file__).resolve().parent / "places" / "data" / "jinshan_district.geojson"

Ring = Sequence[tuple[float, float]]  # (lon, lat) pairs, GeoJSON order


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


M_PER_DEG = 111_320.0
"""Metres per degree of latitude (and of longitude at the equator), for planar distances."""


def m_per_deg_lon(lat: float) -> float:
    """Metres per degree of longitude at ``lat``."""
    return M_PER_DEG * math.cos(math.radians(lat))


def planar_sq_m2(lat_a: Any, lon_a: Any, lat_b: Any, lon_b: Any, kx: Any) -> Any:
    """The squared equirectangular distance (m²) between two points, with ``kx`` metres per
    degree of longitude: built of whatever is passed, so SQL columns and bind parameters give
    an SQL expression (an index-friendly nearest-first order), floats a float. Within a few
    metres of the great-circle distance at 20 km."""
    dy = (lat_a - lat_b) * M_PER_DEG
    dx = (lon_a - lon_b) * kx
    return dy * dy + dx * dx


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """``(min_lat, min_lon, max_lat, max_lon)`` enclosing a circle: an index-friendly prefilter."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    coslat = max(math.cos(math.radians(lat)), 1e-6)
    dlon = math.degrees(radius_m / (EARTH_RADIUS_M * coslat))
    return lat - dlat, lon - dlon, lat + dlat, lon + dlon


def _in_ring(lon: float, lat: float, ring: Ring) -> bool:
    """Ray casting (even-odd rule) towards +lon."""
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > lat) != (yj > lat):
            x_cross = xi + (lat - yi) * (xj - xi) / (yj - yi)
            if lon < x_cross:
                inside = not inside
        j = i
    return inside


class Polygon:
    """One polygon: an exterior ring and optional holes, with its bounding box."""

    __slots__ = ("bbox", "exterior", "holes")

    def __init__(self, exterior: Ring, holes: Sequence[Ring] = ()) -> None:
        self.exterior = tuple((float(x), float(y)) for x, y in exterior)
        self.holes = tuple(tuple((float(x), float(y)) for x, y in h) for h in holes)
        lons = [p[0] for p in self.exterior]
        lats = [p[1] for p in self.exterior]
        self.bbox = (min(lons), min(lats), max(lons), max(lats))  # min_lon, min_lat, max_lon, max_lat

    def contains(self, lat: float, lon: float) -> bool:
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return False
        min_lon, min_lat, max_lon, max_lat = self.bbox
        if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
            return False
        if not _in_ring(lon, lat, self.exterior):
            return False
        return not any(_in_ring(lon, lat, hole) for hole in self.holes)


def point_in_polygon(lat: float, lon: float, polygon: Polygon | Ring) -> bool:
    """Whether (lat, lon) lies inside ``polygon`` (a Polygon or one (lon, lat) ring)."""
    if not isinstance(polygon, Polygon):
        polygon = Polygon(polygon)
    return polygon.contains(lat, lon)


def polygons_from_geojson(data: dict) -> tuple[Polygon, ...]:
    """Polygons of a GeoJSON Feature, FeatureCollection, Polygon or MultiPolygon."""
    kind = data.get("type")
    if kind == "FeatureCollection":
        return tuple(p for f in data["features"] for p in polygons_from_geojson(f))
    if kind == "Feature":
        return polygons_from_geojson(data["geometry"])
    if kind == "Polygon":
        rings = [[(x, y) for x, y, *_ in ring] for ring in data["coordinates"]]
        return (Polygon(rings[0], rings[1:]),)
    if kind == "MultiPolygon":
        return tuple(p for coords in data["coordinates"]
                     for p in polygons_from_geojson({"type": "Polygon", "coordinates": coords}))
    raise ValueError(f"unsupported GeoJSON type {kind!r}")


@lru_cache(maxsize=1)
def district_polygons() -> tuple[Polygon, ...]:
    """The district's land, loaded once per process."""
    return polygons_from_geojson(json.loads(DISTRICT_GEOJSON.read_text(encoding="utf-8")))


def inside_district(lat: float, lon: float) -> bool:
    """Whether a WGS84 point is on Jinshan's land (by the coarse polygon)."""
    return any(p.contains(lat, lon) for p in district_polygons())


def require_inside_district(lat: float, lon: float, field: str = "location") -> None:
    """Raise ``outside_district`` (422) naming ``field`` unless the point is in Jinshan."""
    if not inside_district(lat, lon):
        raise ApiError("outside_district", errors={field: ["位置不在金山区范围内。"]})
