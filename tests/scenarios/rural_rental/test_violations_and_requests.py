"""rural-rental: violations recorded by the house's own committee and followed up until closed
(a violation in the last 12 months costs the green card; an older one does not); a tenant's
rental request for a published room, answered once by the landlord, leading to the tenancy the
landlord submits for 租前审批; each refusal a clear 4xx."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from scenarios.rural_rental.service import violation_window_start
from tests.scenarios.rural_rental.test_rural_rental import h, inspect
from tests.scenarios.rural_rental.world import BASE
from tests.support.factories import bearer, make_resident, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def _green(client, w, session, clock, house_id):
    return client.get(f"{BASE}/houses/{house_id}", headers=h(w, session, clock, "landlord")).get_json()["green"]


def _ranks(client, w, session, clock):
    return {e["rank"] for e in client.get(f"{BASE}/listings", headers=h(w, session, clock, "tenant1"))
            .get_json()["items"]}


def test_a_violation_costs_the_green_card_and_is_followed_up_until_closed(client, w, session, clock, house):
    hid = house["id"]
    for _ in range(2):
        assert inspect(client, w, session, clock, hid).status_code == 201
    assert _green(client, w, session, clock, hid) is True and _ranks(client, w, session, clock) == {1}
    url = f"{BASE}/houses/{hid}/violations"
    body = {"kind": "over_occupancy", "note": "101 室住了 4 人", "photos": ["up-0001"]}
    assert client.post(url, json=body, headers=h(w, session, clock, "committee_b")).status_code == 404
    assert client.post(url, json=body, headers=h(w, session, clock, "landlord")).status_code == 403
    old = client.post(url, json={**body, "found_on": (date(2026, 3, 2) - timedelta(days=400)).isoformat()},
                      headers=h(w, session, clock, "committee_a"))
    assert old.status_code == 201, old.get_json()
    assert _green(client, w, session, clock, hid) is True  # found more than 12 months ago
    for bad, field in (({**body, "kind": "noise"}, "kind"), ({**body, "found_on": "2026-03-03"}, "found_on"),
                       ({**body, "note": ""}, "note")):
        resp = client.post(url, json=bad, headers=h(w, session, clock, "committee_a"))
        assert resp.status_code == 422 and field in resp.get_json()["errors"], resp.get_json()
    made = client.post(url, json=body, headers=h(w, session, clock, "committee_a"))
    assert made.status_code == 201 and made.get_json()["state"] == "open"
    vid = made.get_json()["id"]
    assert _green(client, w, session, clock, hid) is False and _ranks(client, w, session, clock) == {0}
    assert inspect(client, w, session, clock, hid).status_code == 201  # passing again does not restore it
    assert _green(client, w, session, clock, hid) is False

    steps = f"{BASE}/violations/{vid}/follow-ups"
    assert client.post(steps, json={"note": "x"}, headers=h(w, session, clock, "committee_b")).status_code == 404
    assert client.post(steps, json={"note": "x"}, headers=h(w, session, clock, "landlord")).status_code == 403
    visit = client.post(steps, json={"note": "已责令房东一周内整改", "photos": ["up-0002"]},
                        headers=h(w, session, clock, "committee_a"))
    assert visit.status_code == 201 and visit.get_json()["state"] == "open"
    done = client.post(steps, json={"note": "复查：已搬离 2 人", "close": True},
                       headers=h(w, session, clock, "committee_a"))
    assert done.status_code == 201 and done.get_json()["state"] == "closed" and done.get_json()["closed_at"]
    assert [s["closes"] for s in done.get_json()["follow_ups"]] == [False, True]
    again = client.post(steps, json={"note": "再次", "close": True}, headers=h(w, session, clock, "committee_a"))
    assert again.status_code == 409 and again.get_json()["code"] == "violation_closed"
    assert client.post(steps, json={"note": "再次"}, headers=h(w, session, clock, "committee_a")).status_code == 409

    for who, status in (("landlord", 200), ("committee_a", 200), ("committee_b", 404), ("tenant1", 404)):
        assert client.get(f"{BASE}/violations/{vid}", headers=h(w, session, clock, who)).status_code == status
    mine = client.get(f"{BASE}/violations", headers=h(w, session, clock, "landlord")).get_json()
    assert mine["total"] == 2
    open_ = client.get(f"{BASE}/violations", query_string={"state": "open"},
                       headers=h(w, session, clock, "committee_a")).get_json()
    assert [v["id"] for v in open_["items"]] == [old.get_json()["id"]]
    assert client.get(f"{BASE}/violations", headers=h(w, session, clock, "committee_b")).get_json()["total"] == 0


def test_the_green_card_window_is_twelve_calendar_months():
    assert violation_window_start(date(2026, 3, 2)) == date(2025, 3, 2)
    assert violation_window_start(date(2024, 2, 29)) == date(2023, 2, 28)
    assert violation_window_start(date(2026, 1, 31)) == date(2025, 1, 31)


def _outbox(session, template):
    return session.execute(sa.select(OutboxMessage.recipient_id, OutboxMessage.payload)
                           .where(OutboxMessage.template == template).order_by(OutboxMessage.id)).all()


def test_a_tenant_asks_for_a_room_the_landlord_accepts_and_submits_the_tenancy(client, w, session, clock, house):
    hid = house["id"]
    assert inspect(client, w, session, clock, hid).status_code == 201
    room = client.get(f"{BASE}/houses/{hid}", headers=h(w, session, clock, "landlord")).get_json()["rooms"][0]
    body = {"listing_id": room["listing_id"], "persons": 1, "starts_on": "2026-03-10", "ends_on": "2026-09-10",
            "message": "在附近工厂上班"}
    unverified = make_resident(session, name=None)
    session.commit()
    refused = client.post(f"{BASE}/rental-requests", json=body,
                          headers={**bearer(token_for(session, clock, unverified)), "Idempotency-Key": "rr-req-u"})
    assert refused.status_code == 422 and refused.get_json()["code"] == "tenant_not_verified"
    for over, code, status in (({"persons": 3}, "room_over_occupancy", 409),
                               ({"listing_id": 987654}, "not_found", 404),
                               ({"ends_on": "2026-03-10"}, "validation_error", 422)):
        resp = client.post(f"{BASE}/rental-requests", json={**body, **over}, headers=h(w, session, clock, "tenant1"))
        assert (resp.status_code, resp.get_json()["code"]) == (status, code), resp.get_json()
    own = client.post(f"{BASE}/rental-requests", json=body, headers=h(w, session, clock, "landlord"))
    assert own.status_code == 409 and own.get_json()["code"] == "rental_request_own_room"
    asked = client.post(f"{BASE}/rental-requests", json=body, headers=h(w, session, clock, "tenant1"))
    assert asked.status_code == 201 and asked.get_json()["state"] == "pending", asked.get_json()
    rid = asked.get_json()["id"]
    twice = client.post(f"{BASE}/rental-requests", json=body, headers=h(w, session, clock, "tenant1"))
    assert twice.status_code == 409 and twice.get_json()["code"] == "rental_request_pending"
    assert [int(r.recipient_id) for r in _outbox(session, "rental_request_received")] == [w.accounts["landlord"].id]

    seen = client.get(f"{BASE}/rental-requests", headers=h(w, session, clock, "landlord")).get_json()
    assert [r["id"] for r in seen["items"]] == [rid] and seen["items"][0]["tenant_name"] == "租**"
    for who, status in (("committee_a", 404), ("tenant2", 404), ("tenant1", 200)):
        assert client.get(f"{BASE}/rental-requests/{rid}", headers=h(w, session, clock, who)).status_code == status
    assert client.post(f"{BASE}/rental-requests/{rid}/accept", json={},
                       headers=h(w, session, clock, "tenant1")).status_code == 403
    ok = client.post(f"{BASE}/rental-requests/{rid}/accept", json={}, headers=h(w, session, clock, "landlord"))
    assert ok.status_code == 200 and ok.get_json()["state"] == "accepted"
    late = client.post(f"{BASE}/rental-requests/{rid}/decline", json={"reason": "已租出"},
                       headers=h(w, session, clock, "landlord"))
    assert late.status_code == 409 and late.get_json()["code"] == "rental_request_decided"
    told = _outbox(session, "rental_request_decided")
    assert [(int(r.recipient_id), r.payload["outcome"]) for r in told] == [(w.accounts["tenant1"].id, "房东已接受")]

    form = {"room_id": room["id"], "starts_on": "2026-03-10", "ends_on": "2026-09-10", "request_id": rid}
    without = client.post(f"{BASE}/tenancies", json={**form, "tenants": [w.ids["tenant2"]]},
                          headers=h(w, session, clock, "landlord"))
    assert without.status_code == 422 and "form.tenants" in without.get_json()["errors"], without.get_json()
    made = client.post(f"{BASE}/tenancies", json={**form, "tenants": [w.ids["tenant1"]]},
                       headers=h(w, session, clock, "landlord"))
    assert made.status_code == 201, made.get_json()
    linked = client.get(f"{BASE}/rental-requests/{rid}", headers=h(w, session, clock, "tenant1")).get_json()
    assert linked["tenancy_id"] == made.get_json()["id"]
    reused = client.post(f"{BASE}/tenancies", json={**form, "tenants": [w.ids["tenant1"]]},
                         headers=h(w, session, clock, "landlord"))
    assert reused.status_code == 409 and reused.get_json()["code"] == "rental_request_used"
    assert "form.request_id" in reused.get_json()["errors"]
    # the committee asks for more; the landlord's corrected form still answers the same request
    app_id = made.get_json()["application_id"]
    more = client.post(f"{BASE}/applications/{app_id}/ask-more", json={"note": "请补充租期"},
                       headers=h(w, session, clock, "committee_a"))
    assert more.status_code == 200, more.get_json()
    again = client.post(f"{BASE}/applications/{app_id}/resubmit", headers=h(w, session, clock, "landlord"),
                        json={"form": {**form, "tenants": [w.ids["tenant1"]]}})
    assert again.status_code == 200, again.get_json()


def test_a_request_for_a_withdrawn_room_and_a_declined_one(client, w, session, clock, house):
    hid = house["id"]
    assert inspect(client, w, session, clock, hid).status_code == 201
    room = client.get(f"{BASE}/houses/{hid}", headers=h(w, session, clock, "landlord")).get_json()["rooms"][0]
    body = {"listing_id": room["listing_id"], "persons": 2, "starts_on": "2026-04-01", "ends_on": "2026-05-01"}
    asked = client.post(f"{BASE}/rental-requests", json=body, headers=h(w, session, clock, "tenant2")).get_json()
    no = client.post(f"{BASE}/rental-requests/{asked['id']}/decline", json={"reason": "只租给一人"},
                     headers=h(w, session, clock, "landlord"))
    assert no.status_code == 200 and no.get_json()["state"] == "declined" and no.get_json()["reason"] == "只租给一人"
    gone = client.post(f"{BASE}/rental-requests/{asked['id']}/withdraw", json={},
                       headers=h(w, session, clock, "tenant2"))
    assert gone.status_code == 409
    assert inspect(client, w, session, clock, hid, gas=False).status_code == 201  # failed: rooms withdrawn
    off = client.post(f"{BASE}/rental-requests", json=body, headers=h(w, session, clock, "tenant3"))
    assert off.status_code == 409 and off.get_json()["code"] == "room_not_available"


def test_the_green_card_comes_back_when_the_violation_ages_out(client, w, session, clock, house):
    from datetime import datetime

    from scenarios.rural_rental.jobs import restore_green_cards

    hid = house["id"]
    for _ in range(2):
        assert inspect(client, w, session, clock, hid).status_code == 201
    made = client.post(f"{BASE}/houses/{hid}/violations", json={"kind": "fire_hazard", "note": "楼道堆放杂物"},
                       headers=h(w, session, clock, "committee_a"))
    assert made.status_code == 201 and _green(client, w, session, clock, hid) is False
    assert restore_green_cards(session, clock) == 0  # still within 12 months
    session.commit()
    clock.set(datetime(2027, 3, 1, 2, 0, tzinfo=clock.now().tzinfo))  # found 2026-03-02: a day short of 12 months
    assert restore_green_cards(session, clock) == 0 and _green(client, w, session, clock, hid) is False
    clock.set(datetime(2027, 3, 2, 2, 0, tzinfo=clock.now().tzinfo))  # 12 months: no longer in the window
    assert restore_green_cards(session, clock) == 1
    session.commit()
    assert _green(client, w, session, clock, hid) is True and _ranks(client, w, session, clock) == {1}
    assert restore_green_cards(session, clock) == 0  # green houses are not looked at again
