"""Distances, point-in-polygon and the district polygon."""
from __future__ import annotations

import json
import math

import pytest

from app import geo
from app.errors import ApiError
from app.places.seed import reference_data

SQUARE = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0), (0.0, 0.0)]  # (lon, lat)
HOLE = [(4.0, 4.0), (6.0, 4.0), (6.0, 6.0), (4.0, 6.0), (4.0, 4.0)]
# a "U": the notch between x=3..7 above y=3 is outside
U_SHAPE = [(0, 0), (10, 0), (10, 10), (7, 10), (7, 3), (3, 3), (3, 10), (0, 10), (0, 0)]

TOWN_CENTRES = {
    "石化街道": (30.7145, 121.3399), "朱泾镇": (30.8906, 121.1711), "枫泾镇": (30.8908, 121.0101),
    "张堰镇": (30.8039, 121.2961), "亭林镇": (30.8906, 121.3084), "吕巷镇": (30.8339, 121.2009),
    "廊下镇": (30.7919, 121.1871), "金山卫镇": (30.7271, 121.3094), "漕泾镇": (30.7930, 121.4202),
    "山阳镇": (30.7630, 121.3518),
}
OUTSIDE = {
    "Hangzhou Bay, south of the coast": (30.62, 121.30),
    "Hangzhou Bay, off 金山嘴": (30.66, 121.37),
    "Pudong, 陆家嘴": (31.2397, 121.4998),
    "Zhejiang, 平湖": (30.70, 121.02),
    "Zhejiang, 嘉善": (30.84, 120.92),
    "Fengxian, 南桥": (30.92, 121.46),
    "Songjiang": (31.03, 121.22),
    "Hangzhou": (30.27, 120.15),
}


def test_haversine_known_distances():
    # one degree of longitude on the equator: 2πR/360
    assert geo.haversine_m(0, 0, 0, 1) == pytest.approx(2 * math.pi * geo.EARTH_RADIUS_M / 360, rel=1e-9)
    assert geo.haversine_m(30.8906, 121.1711, 30.8906, 121.1711) == 0
    d = geo.haversine_m(30.8906, 121.1711, 30.7145, 121.3399)  # 朱泾 → 石化, about 25 km
    assert 25_000 < d < 26_000
    assert d == pytest.approx(geo.haversine_m(30.7145, 121.3399, 30.8906, 121.1711))
    assert geo.haversine_m(0, 0, 0, 180) == pytest.approx(math.pi * geo.EARTH_RADIUS_M)


def test_bounding_box_encloses_the_circle():
    lat, lon, r = 30.8, 121.2, 2_000
    min_lat, min_lon, max_lat, max_lon = geo.bounding_box(lat, lon, r)
    assert geo.haversine_m(lat, lon, max_lat, lon) == pytest.approx(r, rel=1e-6)
    assert geo.haversine_m(lat, lon, lat, max_lon) == pytest.approx(r, rel=1e-3)
    assert min_lat < lat < max_lat and min_lon < lon < max_lon


def test_point_in_polygon_square_hole_and_concave():
    assert geo.point_in_polygon(5, 5, SQUARE)
    assert not geo.point_in_polygon(11, 5, SQUARE)
    assert not geo.point_in_polygon(5, -0.1, SQUARE)
    with_hole = geo.Polygon(SQUARE, [HOLE])
    assert not with_hole.contains(5, 5)
    assert with_hole.contains(2, 2)
    u = geo.Polygon(U_SHAPE)
    assert u.contains(5, 1)  # (lat 5, lon 1): the left arm
    assert not u.contains(5, 5)  # in the notch
    assert u.contains(8, 8.5)  # right arm
    assert u.bbox == (0, 0, 10, 10)
    assert not u.contains(float("nan"), 5)


def test_polygons_from_geojson_kinds():
    poly = {"type": "Polygon", "coordinates": [SQUARE, HOLE]}
    multi = {"type": "MultiPolygon", "coordinates": [[SQUARE], [[(20, 20), (21, 20), (21, 21), (20, 20)]]]}
    assert len(geo.polygons_from_geojson(poly)) == 1
    assert len(geo.polygons_from_geojson({"type": "Feature", "geometry": multi})) == 2
    with pytest.raises(ValueError):
        geo.polygons_from_geojson({"type": "Point", "coordinates": [0, 0]})


def test_district_file_is_a_closed_coarse_ring_within_the_expected_box():
    data = json.loads(geo.DISTRICT_GEOJSON.read_text(encoding="utf-8"))
    feature = data["features"][0]
    assert "coarse" in feature["properties"]["accuracy"] and "hand-drawn" in feature["properties"]["accuracy"]
    ring = feature["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) >= 10
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    assert 120.98 <= min(lons) and max(lons) <= 121.46
    assert 30.67 <= min(lats) and max(lats) <= 30.99
    assert geo.district_polygons() is geo.district_polygons()  # loaded once


@pytest.mark.parametrize("name", sorted(TOWN_CENTRES))
def test_town_centres_are_inside(name):
    assert geo.inside_district(*TOWN_CENTRES[name])


@pytest.mark.parametrize("name", sorted(OUTSIDE))
def test_places_elsewhere_are_outside(name):
    assert not geo.inside_district(*OUTSIDE[name])


def test_every_reference_place_is_inside():
    data = reference_data()
    points = [(c["lat"], c["lon"]) for c in data["communities"]] + [(v["lat"], v["lon"]) for v in data["villages"]]
    points += [(o["attributes"]["centre"]["lat"], o["attributes"]["centre"]["lon"])
               for o in data["organisations"] if "centre" in o["attributes"]]
    points += [(o["attributes"]["location"]["lat"], o["attributes"]["location"]["lon"])
               for o in data["organisations"] if "location" in o["attributes"]]
    assert len(points) > 252 + 10 + 11 + 16
    assert [p for p in points if not geo.inside_district(*p)] == []


def test_require_inside_district():
    geo.require_inside_district(30.8906, 121.1711)  # no error
    with pytest.raises(ApiError) as exc:
        geo.require_inside_district(31.2397, 121.4998, field="pickup")
    assert exc.value.code == "outside_district" and exc.value.status == 422
    assert list(exc.value.errors) == ["pickup"]
    with pytest.raises(ApiError) as exc:
        geo.require_inside_district(30.62, 121.30)
    assert list(exc.value.errors) == ["location"]
