"""The map: nearby car parks by distance with free spaces from the operators' counters (through
the telemetry engine); a silent counter shows unknown, never free; bad occupancy is a 4xx."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from app.worker import Worker
from scenarios.parking.models import PkLot
from tests.scenarios.parking.conftest import BASE, NOW

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
HERE = {"lat": 30.7420, "lon": 121.3430}


def occupancy(client, w, key: str, occupied, **extra):
    return client.put(f"{BASE}/lots/lot-{key}/occupancy", json={"occupied": occupied, **extra},
                      headers=w.h[f"counter_{key}"])


def nearby(client, **args):
    return client.get(f"{BASE}/lots", query_string={**HERE, **args})


def test_nearby_lots_nearest_first_with_their_free_spaces_anonymous_too(client, world):
    assert occupancy(client, world, "near", 40).status_code == 200
    assert occupancy(client, world, "far", 100).status_code == 200  # full
    resp = nearby(client)
    assert resp.status_code == 200, resp.get_json()
    items = resp.get_json()["items"]
    assert [i["code"] for i in items] == ["lot-near", "lot-strict", "lot-shared", "lot-far"]  # 20 km one left out
    near, strict, far = items[0], items[1], items[3]
    assert (near["status"], near["free"], near["distance_m"]) == ("free", 60, 0)
    assert (strict["status"], strict["free"]) == ("unknown", None)  # never reported
    assert (far["status"], far["free"], far["pilot"]) == ("full", 0, "hospital") and 1900 < far["distance_m"] < 2100
    assert near["tariff"] == {"first_hour_fen": 1000, "half_hour_fen": 500, "daily_cap_fen": 6000, "free_minutes": 15}
    assert [i["code"] for i in nearby(client, free_only="true").get_json()["items"]] == ["lot-near"]
    r = nearby(client, radius_m=1000, pilot="hospital")
    assert r.status_code == 200 and r.get_json()["items"] == [], r.get_json()
    assert nearby(client, radius_m=30000).status_code == 422


def test_a_silent_counter_shows_unknown_not_free(client, db, session, clock, world):
    assert occupancy(client, world, "near", 10).get_json()["status"] == "free"
    clock.set(NOW + timedelta(minutes=5, seconds=1))  # the copy is stale even before the worker runs
    item = nearby(client).get_json()["items"][0]
    assert (item["code"], item["status"], item["free"]) == ("lot-near", "unknown", None)
    assert nearby(client, free_only="true").get_json()["items"] == []
    clock.set(NOW + timedelta(minutes=6))
    Worker(db, clock, worker_id="pk", periodic_jobs=None).run_once()  # telemetry marks it offline
    session.expire_all()
    assert session.get(PkLot, world.lots["near"].id).occupied is None
    resp = occupancy(client, world, "near", 20)
    assert resp.status_code == 200 and (resp.get_json()["status"], resp.get_json()["free"]) == ("free", 80)


@pytest.mark.parametrize(("occupied", "extra", "code", "field"), [
    (101, {}, "reading_out_of_range", "value.occupied"),
    (-1, {}, "reading_out_of_range", "value.occupied"),
    (10, {"at": (NOW + timedelta(minutes=5)).isoformat()}, "reading_from_future", "at"),
])
def test_occupancy_above_capacity_negative_or_from_the_future_is_refused(client, session, world, occupied, extra,
                                                                          code, field):
    resp = occupancy(client, world, "near", occupied, **extra)
    body = resp.get_json()
    assert resp.status_code == 422 and body["code"] == code, body
    assert any(field in k for k in body.get("errors", {})), body
    session.expire_all()
    assert session.get(PkLot, world.lots["near"].id).occupied is None  # nothing stored


def test_only_the_lots_own_counter_reports_its_occupancy(client, world):
    as_camera = client.put(f"{BASE}/lots/lot-near/occupancy", json={"occupied": 1}, headers=world.h["camera_near"])
    assert as_camera.status_code == 403
    other_lot = client.put(f"{BASE}/lots/lot-near/occupancy", json={"occupied": 1}, headers=world.h["counter_far"])
    assert other_lot.status_code == 403
    other_operator = client.put(f"{BASE}/lots/lot-near/occupancy", json={"occupied": 1},
                                headers=world.h["counter_other"])
    assert other_operator.status_code == 403
    assert client.put(f"{BASE}/lots/lot-near/occupancy", json={"occupied": 1},
                      headers=world.h["alice"]).status_code == 403
    assert client.put(f"{BASE}/lots/nope/occupancy", json={"occupied": 1},
                      headers=world.h["counter_near"]).status_code == 404
    # an older count than the latest is history only
    assert occupancy(client, world, "near", 30).status_code == 200
    late = occupancy(client, world, "near", 90, at=(NOW - timedelta(minutes=1)).isoformat())
    assert late.status_code == 200 and late.get_json()["free"] == 70


def test_the_map_snapshot_is_read_again_once_its_seconds_are_over():
    from scenarios.parking.lots import MapSnapshot

    now = [100.0]
    loads = []
    snapshot = MapSnapshot(2.0, monotonic=lambda: now[0])
    assert snapshot.rows(lambda: loads.append(1) or ["a"]) == ["a"]
    now[0] = 101.9
    assert snapshot.rows(lambda: loads.append(2) or ["b"]) == ["a"]
    now[0] = 102.0
    assert snapshot.rows(lambda: loads.append(3) or ["c"]) == ["c"] and loads == [1, 3]
    fresh = MapSnapshot(0.0)
    assert [fresh.rows(lambda n=n: [n]) for n in (1, 2)] == [[1], [2]]  # 0: every request reads


def test_the_maps_json_text_is_the_view_encoded(client, session, world):
    from scenarios.parking.lots import map_rows

    occupancy(client, world, "near", 40)
    for lot in map_rows(session):
        for now in (NOW, NOW + timedelta(hours=1)):  # free, then unknown
            assert json.loads(lot.view_json(now, 1234.4)) == lot.view(now, 1234.4)
