"""rural-rental: a tenancy resubmitted after the committee asked for more follows the corrected
form (period, tenants, room), so the occupancy check, the current tenants and arrivals use what
the committee approves; a rejected tenancy frees the rental request it answered, so the landlord's
new submission with the right dates can answer it."""
from __future__ import annotations

import pytest

from tests.scenarios.rural_rental.test_rural_rental import approve, h, inspect, tenancy
from tests.scenarios.rural_rental.world import BASE

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def _act(client, w, session, clock, application_id, action, who, **body):
    return client.post(f"{BASE}/applications/{application_id}/{action}", json=body,
                       headers=h(w, session, clock, who))


def _get(client, w, session, clock, tenancy_id):
    return client.get(f"{BASE}/tenancies/{tenancy_id}", headers=h(w, session, clock, "landlord")).get_json()


def test_a_resubmitted_tenancy_takes_the_corrected_period_and_tenants(client, w, session, clock, house):
    room = house["rooms"][0]["id"]
    inspect(client, w, session, clock, house["id"])
    first = tenancy(client, w, session, clock, room, ["tenant1"], "2026-03-10", "2026-06-10").get_json()
    app_id = first["application_id"]
    assert _act(client, w, session, clock, app_id, "ask-more", "committee_a", note="租期有误").status_code == 200
    corrected = {"room_id": room, "tenants": [w.ids["tenant2"], w.ids["tenant3"]],
                 "starts_on": "2026-04-01", "ends_on": "2026-05-01"}
    backwards = _act(client, w, session, clock, app_id, "resubmit", "landlord",
                     form={**corrected, "ends_on": "2026-04-01"})
    assert backwards.status_code == 422 and "form.ends_on" in backwards.get_json()["errors"], backwards.get_json()
    assert _get(client, w, session, clock, first["id"])["starts_on"] == "2026-03-10"  # nothing stored
    again = _act(client, w, session, clock, app_id, "resubmit", "landlord", form=corrected)
    assert again.status_code == 200, again.get_json()
    shown = _get(client, w, session, clock, first["id"])
    assert (shown["starts_on"], shown["ends_on"], shown["persons"], shown["state"]) == \
        ("2026-04-01", "2026-05-01", 2, "pending")
    # a one-person tenancy from 10 May: the old period (to 10 June) would have made three in a room for two
    later = tenancy(client, w, session, clock, room, ["tenant1"], "2026-05-10", "2026-07-01").get_json()
    assert approve(client, w, session, clock, app_id).get_json()["state"] == "approved"
    assert approve(client, w, session, clock, later["application_id"]).status_code == 200
    # the corrected tenants are the ones who arrive and are shown living there
    clock.set(clock.now().replace(month=4, day=15))
    assert client.post(f"{BASE}/tenancies/{first['id']}/arrivals", json={"id_number": w.ids["tenant1"]},
                       headers=h(w, session, clock, "landlord")).get_json()["code"] == "not_a_tenant"
    assert client.post(f"{BASE}/tenancies/{first['id']}/arrivals", json={"id_number": w.ids["tenant2"]},
                       headers=h(w, session, clock, "landlord")).status_code == 200
    seen = client.get(f"{BASE}/houses/{house['id']}", headers=h(w, session, clock, "landlord")).get_json()
    assert len(seen["rooms"][0]["current_tenants"]) == 2
    # a tenant dropped from the form no longer sees the tenancy; one added does
    assert client.get(f"{BASE}/tenancies/{first['id']}", headers=h(w, session, clock, "tenant1")).status_code == 404
    assert client.get(f"{BASE}/tenancies/{first['id']}", headers=h(w, session, clock, "tenant3")).status_code == 200


def test_a_resubmission_is_held_to_the_occupancy_limit_of_the_room_it_names(client, w, session, clock, house):
    room = house["rooms"][0]["id"]
    inspect(client, w, session, clock, house["id"])
    first = tenancy(client, w, session, clock, room, ["tenant1"], "2026-03-10", "2026-06-10").get_json()
    _act(client, w, session, clock, first["application_id"], "ask-more", "committee_a", note="人数")
    three = _act(client, w, session, clock, first["application_id"], "resubmit", "landlord",
                 form={"room_id": room, "tenants": [w.ids[t] for t in ("tenant1", "tenant2", "tenant3")],
                       "starts_on": "2026-03-10", "ends_on": "2026-06-10"})
    assert three.status_code == 422 and "form.tenants" in three.get_json()["errors"]
    assert _get(client, w, session, clock, first["id"])["persons"] == 1


def test_after_a_rejection_a_new_tenancy_answers_the_same_request_with_its_own_dates(client, w, session, clock,
                                                                                      house):
    inspect(client, w, session, clock, house["id"])
    room = client.get(f"{BASE}/houses/{house['id']}", headers=h(w, session, clock, "landlord")).get_json()["rooms"][0]
    asked = client.post(f"{BASE}/rental-requests", headers=h(w, session, clock, "tenant1"),
                        json={"listing_id": room["listing_id"], "persons": 1, "starts_on": "2026-03-10",
                              "ends_on": "2026-09-10"}).get_json()
    client.post(f"{BASE}/rental-requests/{asked['id']}/accept", json={}, headers=h(w, session, clock, "landlord"))
    form = {"room_id": room["id"], "tenants": [w.ids["tenant1"]], "request_id": asked["id"]}
    made = client.post(f"{BASE}/tenancies", headers=h(w, session, clock, "landlord"),
                       json={**form, "starts_on": "2026-03-10", "ends_on": "2026-09-10"}).get_json()
    rejected = _act(client, w, session, clock, made["application_id"], "reject", "committee_a",
                    reasons=[{"reason": "period", "message": "租期超过半年须另行备案"}])
    assert rejected.get_json()["state"] == "rejected"
    late = _act(client, w, session, clock, made["application_id"], "resubmit", "landlord",
                form={**form, "starts_on": "2026-03-10", "ends_on": "2026-06-10"})
    assert late.status_code == 409 and late.get_json()["code"] == "application_state_changed"
    anew = client.post(f"{BASE}/tenancies", headers=h(w, session, clock, "landlord"),
                       json={**form, "starts_on": "2026-03-10", "ends_on": "2026-06-10"})
    assert anew.status_code == 201, anew.get_json()
    assert (anew.get_json()["starts_on"], anew.get_json()["ends_on"]) == ("2026-03-10", "2026-06-10")
    linked = client.get(f"{BASE}/rental-requests/{asked['id']}", headers=h(w, session, clock, "tenant1")).get_json()
    assert linked["tenancy_id"] == anew.get_json()["id"]
    assert _get(client, w, session, clock, made["id"])["state"] == "rejected"
