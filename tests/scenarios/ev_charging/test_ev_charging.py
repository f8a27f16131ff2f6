"""ev-charging (公共充电桩预约): piles with the state their devices report, nearby search that never
calls a silent pile free, reservation of an arrival window (refused on a faulty or silent pile),
sessions started by place code or by the pile's device, energy priced by the tariff in force
when it was delivered, the fee paid through the ledger, a fault that withdraws reservations and
tells the people, the operators' figures, and each bad input's code."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.fields import CST
from app.notify.models import OutboxMessage
from app.worker import Worker
from scenarios.engines.booking.models import BkBooking, BkSlot
from scenarios.engines.ledger.models import LgPaymentIntent
from scenarios.engines.telemetry.models import TmAlert
from scenarios.ev_charging.models import EvSession
from scenarios.ev_charging.tariff import accrue_milli_fen, check_bands, energy_price, round_fen
from tests.scenarios.ev_charging.world import BASE, HOME, build, energy, relog, state

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
# Monday 2 March 2026, 14:00 in Beijing: no time-of-use band (energy 67 + service 80 fen/kWh)
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def t0(clock):
    clock.set(T0)  # before the signing key (tests.support.qr's keyring) is made


@pytest.fixture
def w(session, clock, t0, keyring):
    return build(session, clock)


def all_free(client, w, *codes):
    for code in codes or tuple(w.piles):
        resp = state(client, w, code, "free")
        assert resp.status_code == 200, resp.get_json()


def window(session, w, code: str, minutes_from_now: int, clock) -> BkSlot:
    """The arrival window starting at the next half hour + ``minutes_from_now``."""
    now = clock.now()
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(minutes=30 + minutes_from_now)
    return session.scalar(sa.select(BkSlot).where(BkSlot.resource_id == w.piles[code].resource_id,
                                                  BkSlot.starts_at == start))


def reserve(client, w, who: str, slot: BkSlot, key: str):
    return client.post(f"{BASE}/bookings", json={"slot_id": slot.id},
                       headers={**w.h[who], "Idempotency-Key": f"reserve-{key}-0001"})


def start(client, w, who: str, code: str, key: str = "s1"):
    return client.post(f"{BASE}/sessions", json={"scanned": w.codes[code]},
                       headers={**w.h[who], "Idempotency-Key": f"start-{key}-00001"})


def outbox(session, template: str) -> list[OutboxMessage]:
    return session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == template)
                           .order_by(OutboxMessage.id)).all()


# ---------------------------------------------------------------- tariff


def test_time_of_use_bands_set_the_energy_price_inside_them_and_the_fee_rounds_once():
    bands = check_bands([{"from_minute": 22 * 60, "to_minute": 1440, "energy_fen_per_kwh": 31},
                         {"from_minute": 8 * 60, "to_minute": 11 * 60, "energy_fen_per_kwh": 107}])
    assert [b["from_minute"] for b in bands] == [480, 1320]
    assert energy_price(67, bands, datetime(2026, 3, 2, 9, 59, tzinfo=CST)) == 107
    assert energy_price(67, bands, datetime(2026, 3, 2, 11, 0, tzinfo=CST)) == 67  # the end is outside
    assert energy_price(67, bands, datetime(2026, 3, 2, 23, 30, tzinfo=CST)) == 31
    assert round_fen(1499) == 1 and round_fen(1500) == 2 and round_fen(0) == 0
    with pytest.raises(Exception) as overlap:
        check_bands([{"from_minute": 0, "to_minute": 600, "energy_fen_per_kwh": 1},
                     {"from_minute": 599, "to_minute": 700, "energy_fen_per_kwh": 1}])
    assert overlap.value.code == "validation_error" and "tou" in overlap.value.errors

    class Pile:
        energy_fen_per_kwh, service_fen_per_kwh, tou = 67, 80, bands

    # 1.5 kWh in the morning peak: (107 + 80) × 1500 Wh milli-fen
    assert accrue_milli_fen(Pile, 1500, datetime(2026, 3, 2, 9, 0, tzinfo=CST)) == 187 * 1500


# ---------------------------------------------------------------- nearby


def test_nearby_shows_the_state_the_devices_report_and_a_silent_pile_is_offline_not_free(client, clock, w):
    all_free(client, w, "ev-a-1", "ev-b-1")
    assert state(client, w, "ev-a-2", "charging").status_code == 200
    q = {"lat": HOME[0], "lon": HOME[1], "radius_m": 3000}
    got = client.get(f"{BASE}/piles/nearby", query_string=q, headers=w.h["alice"]).get_json()
    assert [(p["code"], p["state"]) for p in got["items"]] == [
        ("ev-a-1", "free"), ("ev-a-2", "charging"), ("ev-b-1", "free")]
    assert got["items"][0]["distance_m"] == 0 and 560 < got["items"][1]["distance_m"] < 600
    assert got["items"][0]["tariff"]["now_fen_per_kwh"] == 147  # 14:00: no band, 67 + 80
    free = client.get(f"{BASE}/piles/nearby", query_string={**q, "state": "free"}, headers=w.h["alice"]).get_json()
    assert [p["code"] for p in free["items"]] == ["ev-a-1", "ev-b-1"] and free["total"] == 2
    near = client.get(f"{BASE}/piles/nearby", query_string={**q, "radius_m": 800}, headers=w.h["alice"]).get_json()
    assert [p["code"] for p in near["items"]] == ["ev-a-1", "ev-a-2"]
    ac = client.get(f"{BASE}/piles/nearby", query_string={**q, "connector": "gb_ac"}, headers=w.h["alice"])
    assert [p["code"] for p in ac.get_json()["items"]] == ["ev-a-2"]

    # ev-b-1 keeps reporting, the others fall silent: 2 minutes on they are offline (no worker ran)
    clock.advance(seconds=100)
    all_free(client, w, "ev-b-1")
    clock.advance(seconds=21)
    later = client.get(f"{BASE}/piles/nearby", query_string=q, headers=w.h["alice"]).get_json()
    assert [(p["code"], p["state"]) for p in later["items"]] == [
        ("ev-a-1", "offline"), ("ev-a-2", "offline"), ("ev-b-1", "free")]
    free = client.get(f"{BASE}/piles/nearby", query_string={**q, "state": "free"}, headers=w.h["alice"]).get_json()
    assert [p["code"] for p in free["items"]] == ["ev-b-1"]
    bad = client.get(f"{BASE}/piles/nearby", query_string={**q, "radius_m": 50_000}, headers=w.h["alice"])
    assert bad.status_code == 422 and "radius_m" in bad.get_json()["errors"]


# ---------------------------------------------------------------- reservation


def test_a_window_is_reserved_once_and_a_faulty_or_silent_pile_not_at_all(client, session, clock, w):
    all_free(client, w)
    slot = window(session, w, "ev-a-1", 0, clock)
    ok = reserve(client, w, "alice", slot, "a1")
    assert ok.status_code == 201 and ok.get_json()["status"] == "confirmed", ok.get_json()
    taken = reserve(client, w, "bob", slot, "b1")
    assert taken.status_code == 409 and taken.get_json()["code"] == "slot_full"

    clock.advance(seconds=1)  # a reading at the same instant would be the same reading
    assert state(client, w, "ev-a-2", "fault").status_code == 200
    faulty = reserve(client, w, "bob", window(session, w, "ev-a-2", 0, clock), "b2")
    assert faulty.status_code == 409 and faulty.get_json()["code"] == "pile_faulty"
    assert "slot_id" in faulty.get_json()["errors"]

    clock.advance(minutes=3)  # every device silent
    silent = reserve(client, w, "bob", window(session, w, "ev-b-1", 0, clock), "b3")
    assert silent.status_code == 409 and silent.get_json()["code"] == "pile_offline"
    assert session.scalar(sa.select(sa.func.count()).select_from(BkBooking)) == 1


def test_a_fault_withdraws_the_piles_reservations_tells_the_people_and_ends_its_session(client, session, clock, w):
    all_free(client, w)
    near = window(session, w, "ev-a-1", 0, clock)
    later = window(session, w, "ev-a-1", 60, clock)
    assert reserve(client, w, "alice", near, "a1").status_code == 201
    assert reserve(client, w, "bob", later, "b1").status_code == 201
    assert start(client, w, "bob", "ev-a-2").status_code == 201
    assert energy(client, w, "ev-a-2", 2.5).status_code == 200

    clock.advance(seconds=1)
    assert state(client, w, "ev-a-1", "fault").status_code == 200
    assert state(client, w, "ev-a-2", "fault").status_code == 200
    clock.advance(seconds=10)
    assert state(client, w, "ev-a-1", "fault").status_code == 200  # the same episode: nothing more
    bookings = session.scalars(sa.select(BkBooking).order_by(BkBooking.id)).all()
    assert [(b.status, b.end_reason) for b in bookings] == [("cancelled", "withdrawn: 充电桩故障")] * 2
    told = outbox(session, "booking_cancelled")
    assert sorted(m.recipient_id for m in told) == sorted(str(w.people[k].id) for k in ("alice", "bob"))
    assert {m.payload["reason"] for m in told} == {"充电桩故障"}
    ended = session.scalar(sa.select(EvSession))
    assert (ended.status, ended.stop_reason, ended.energy_wh, ended.fee_fen) == ("stopped", "pile_fault", 2500, 368)
    stopped = outbox(session, "ev_session_stopped")
    assert [(m.recipient_id, m.payload["reason"]) for m in stopped] == [(str(w.people["bob"].id), "pile_fault")]
    assert slot_free(session, near) and slot_free(session, later)
    alerts = session.scalars(sa.select(TmAlert).where(TmAlert.scenario == "ev-charging", TmAlert.rule == "fault")).all()
    assert sorted((a.subject_id, a.closed_at) for a in alerts) == sorted(
        (w.piles[code].id, None) for code in ("ev-a-1", "ev-a-2"))  # one open alert a pile, for the operator


def slot_free(session, slot) -> bool:
    session.refresh(slot)
    return slot.booked == 0 and slot.held == 0


# ---------------------------------------------------------------- sessions


def test_a_session_by_place_code_is_priced_per_band_charged_and_paid_through_the_ledger(client, session, clock, w):
    clock.set(datetime(2026, 3, 3, 10, 40, tzinfo=CST))  # the next morning, in the 08:00–11:00 peak band
    relog(session, clock, w)
    all_free(client, w, "ev-a-1")
    started = start(client, w, "alice", "ev-a-1")
    assert started.status_code == 201, started.get_json()
    sid = started.get_json()["id"]
    assert started.get_json()["started_via"] == "place_code"
    clock.advance(minutes=10)
    assert energy(client, w, "ev-a-1", 10.0).status_code == 200  # 10 kWh at (107 + 80)
    clock.advance(minutes=20)  # 11:10: back to the flat 67
    assert energy(client, w, "ev-a-1", 16.0).status_code == 200  # 6 kWh at (67 + 80)
    relog(session, clock, w)
    shown = client.get(f"{BASE}/sessions/{sid}", headers=w.h["alice"]).get_json()
    assert (shown["status"], shown["energy_kwh"], shown["fee_fen"]) == ("charging", 16.0, 1870 + 882)

    # Bob's session is not his (404), the operator's staff read it but may not stop it
    assert client.get(f"{BASE}/sessions/{sid}", headers=w.h["bob"]).status_code == 404
    assert client.get(f"{BASE}/sessions/{sid}", headers=w.h["manager_b"]).status_code == 404
    assert client.get(f"{BASE}/sessions/{sid}", headers=w.h["staff_a"]).status_code == 200
    assert client.post(f"{BASE}/sessions/{sid}/stop", json={}, headers=w.h["staff_a"]).status_code == 403

    stopped = client.post(f"{BASE}/sessions/{sid}/stop", json={}, headers={**w.h["alice"],
                                                                             "Idempotency-Key": "stop-alice-1"})
    body = stopped.get_json()
    assert stopped.status_code == 200 and (body["status"], body["fee_fen"]) == ("stopped", 2752), body
    again = client.post(f"{BASE}/sessions/{sid}/stop", json={}, headers=w.h["alice"])
    assert again.status_code == 409 and again.get_json()["code"] == "session_not_active"
    intent = session.get(LgPaymentIntent, body["payment_id"])
    assert (intent.amount_fen, intent.payee_org_id, intent.subject) == (2752, w.a.id, f"ev_session:{sid}")
    [told] = outbox(session, "ev_session_stopped")
    assert told.payload["fee_text"] == "27.52元" and told.payload["energy_kwh"] == "16.000"

    paid = client.post(f"/api/v1/payments/{intent.id}/pay", json={}, headers={**w.h["alice"],
                                                                              "Idempotency-Key": "pay-alice-01"})
    assert paid.status_code == 200, paid.get_json()
    shown = client.get(f"{BASE}/sessions/{sid}", headers=w.h["alice"]).get_json()
    assert shown["status"] == "paid" and shown["paid_at"] is not None
    mine = client.get(f"{BASE}/sessions", headers=w.h["alice"]).get_json()
    assert [s["id"] for s in mine["items"]] == [sid]


def test_starting_refuses_a_pile_in_use_reserved_by_another_faulty_or_silent(client, session, clock, w):
    all_free(client, w)
    assert start(client, w, "alice", "ev-a-1").status_code == 201
    busy = start(client, w, "bob", "ev-a-1", key="b1")
    assert busy.status_code == 409 and busy.get_json()["code"] == "pile_in_use"

    clock.set(window(session, w, "ev-a-2", 0, clock).starts_at - timedelta(minutes=20))
    all_free(client, w, "ev-a-2", "ev-b-1")
    slot = window(session, w, "ev-a-2", 0, clock)
    assert reserve(client, w, "alice", slot, "a2").status_code == 201
    clock.set(slot.starts_at + timedelta(minutes=5))
    relog(session, clock, w)
    all_free(client, w, "ev-a-2")
    reserved = start(client, w, "bob", "ev-a-2", key="b2")
    assert reserved.status_code == 409 and reserved.get_json()["code"] == "pile_reserved"

    assert state(client, w, "ev-b-1", "fault").status_code == 200
    faulty = start(client, w, "bob", "ev-b-1", key="b3")
    assert faulty.status_code == 409 and faulty.get_json()["code"] == "pile_faulty"
    clock.advance(minutes=3)
    silent = start(client, w, "bob", "ev-a-2", key="b4")
    assert silent.status_code == 409 and silent.get_json()["code"] == "pile_offline"
    wrong = client.post(f"{BASE}/sessions", json={"scanned": "https://example.com/x"}, headers=w.h["bob"])
    assert wrong.status_code == 422 and wrong.get_json()["code"] == "qr_malformed"


def test_the_device_starts_the_reserved_session_and_stops_it_with_the_energy(client, session, db, clock, w):
    all_free(client, w)
    dev = w.h["dev_ev-a-1"]
    nothing = client.post(f"{BASE}/device/sessions/start", json={}, headers=dev)
    assert nothing.status_code == 409 and nothing.get_json()["code"] == "no_reservation_now"
    not_started = client.post(f"{BASE}/device/sessions/stop", json={"energy_kwh": 1.0}, headers=dev)
    assert not_started.status_code == 409 and not_started.get_json()["code"] == "session_not_started"

    slot = window(session, w, "ev-a-1", 0, clock)
    booking = reserve(client, w, "alice", slot, "a1").get_json()
    clock.set(slot.starts_at + timedelta(minutes=7))
    relog(session, clock, w)
    all_free(client, w, "ev-a-1")
    started = client.post(f"{BASE}/device/sessions/start", json={}, headers=dev)
    assert started.status_code == 201, started.get_json()
    assert (started.get_json()["started_via"], started.get_json()["booking_id"]) == ("device", booking["id"])
    assert session.get(BkBooking, booking["id"]).status == "checked_in"
    clock.set(slot.starts_at + timedelta(minutes=31))  # past the window: the no-show timer finds it used
    Worker(db, clock, worker_id="ev", periodic_jobs={}).run_once()
    session.expire_all()
    assert session.get(BkBooking, booking["id"]).status == "checked_in"

    future = client.post(f"{BASE}/device/sessions/stop",
                         json={"energy_kwh": 5.0, "at": (clock.now() + timedelta(minutes=5)).isoformat()}, headers=dev)
    assert future.status_code == 422 and future.get_json()["code"] == "reading_from_future"
    assert energy(client, w, "ev-a-1", 3.0).status_code == 200
    negative = client.post(f"{BASE}/device/sessions/stop", json={"energy_kwh": -1.0}, headers=dev)
    assert negative.status_code == 422 and negative.get_json()["code"] == "energy_negative"
    assert "energy_kwh" in negative.get_json()["errors"]
    lower = client.post(f"{BASE}/device/sessions/stop", json={"energy_kwh": 2.0}, headers=dev)
    assert lower.status_code == 422 and lower.get_json()["code"] == "energy_decreasing"
    clock.advance(seconds=1)
    via_telemetry = energy(client, w, "ev-a-1", 2.5)
    assert via_telemetry.status_code == 422 and via_telemetry.get_json()["code"] == "energy_decreasing"
    clock.advance(seconds=1)
    below_zero = energy(client, w, "ev-a-1", -0.5)
    assert below_zero.status_code == 422 and below_zero.get_json()["code"] == "energy_negative"

    done = client.post(f"{BASE}/device/sessions/stop", json={"energy_kwh": 4.0}, headers=dev)
    assert done.status_code == 200 and (done.get_json()["status"], done.get_json()["fee_fen"]) == ("stopped", 588)
    twice = client.post(f"{BASE}/device/sessions/stop", json={"energy_kwh": 4.0}, headers=dev)
    assert twice.status_code == 409 and twice.get_json()["code"] == "session_not_started"
    other = client.post(f"{BASE}/device/sessions/start", json={}, headers=w.h["alice"])
    assert other.status_code in (401, 403)


# ---------------------------------------------------------------- operators


def test_operators_see_their_piles_sessions_and_revenue_per_day(client, session, clock, w):
    all_free(client, w)
    for who, code, kwh in (("alice", "ev-a-1", 10.0), ("bob", "ev-a-2", 5.0)):
        sid = start(client, w, who, code, key=who).get_json()["id"]
        assert energy(client, w, code, kwh).status_code == 200
        client.post(f"{BASE}/sessions/{sid}/stop", json={}, headers=w.h[who])
    start(client, w, "alice", "ev-b-1", key="other")

    listed = client.get(f"{BASE}/operator/piles", headers=w.h["staff_a"]).get_json()
    assert [(p["code"], p["state"]) for p in listed["items"]] == [("ev-a-1", "free"), ("ev-a-2", "free")]
    assert all(p["place_code"].startswith("https://") for p in listed["items"])
    day = T0.astimezone(CST).date()
    sessions = client.get(f"{BASE}/operator/sessions", query_string={"date": day.isoformat()},
                          headers=w.h["manager_a"]).get_json()
    assert sorted(s["pile"] for s in sessions["items"]) == ["ev-a-1", "ev-a-2"]
    assert "person_id" not in sessions["items"][0]
    revenue = client.get(f"{BASE}/operator/revenue", headers=w.h["manager_a"], query_string={
        "date_from": (day - timedelta(days=1)).isoformat(), "date_to": day.isoformat()}).get_json()
    assert revenue["days"][0] == {"date": (day - timedelta(days=1)).isoformat(), "sessions": 0, "energy_kwh": 0.0,
                                  "billed_fen": 0, "paid_fen": 0}
    assert revenue["days"][1] == {"date": day.isoformat(), "sessions": 2, "energy_kwh": 15.0,
                                  "billed_fen": 1470 + 735, "paid_fen": 0}
    for who in ("alice", "company"):
        assert client.get(f"{BASE}/operator/piles", headers=w.h[who]).status_code in (401, 403)
    too_long = client.get(f"{BASE}/operator/revenue", headers=w.h["manager_a"], query_string={
        "date_from": "2026-01-01", "date_to": "2026-06-01"})
    assert too_long.status_code == 422 and "date_to" in too_long.get_json()["errors"]


def test_managers_create_piles_inside_the_district_with_their_charger(client, w):
    body = {"code": "ev-new-1", "station": "新站", "name": "1号", "address": "金山区", "lat": HOME[0], "lon": HOME[1],
            "power_kw": 7, "connector": "gb_ac", "energy_fen_per_kwh": 67, "service_fen_per_kwh": 60}
    assert client.post(f"{BASE}/operator/piles", json=body, headers=w.h["staff_a"]).status_code == 403
    made = client.post(f"{BASE}/operator/piles", json=body, headers={**w.h["manager_a"],
                                                                       "Idempotency-Key": "pile-create-1"})
    assert made.status_code == 201 and made.get_json()["state"] == "offline", made.get_json()
    taken = client.post(f"{BASE}/operator/piles", json=body, headers=w.h["manager_a"])
    assert taken.status_code == 409 and taken.get_json()["code"] == "resource_code_taken"
    outside = client.post(f"{BASE}/operator/piles", json={**body, "code": "ev-new-2", "lat": 31.23, "lon": 121.47},
                          headers=w.h["manager_a"])
    assert outside.status_code == 422
    overlap = client.post(f"{BASE}/operator/piles", headers=w.h["manager_a"], json={
        **body, "code": "ev-new-3", "tou": [{"from_minute": 0, "to_minute": 600, "energy_fen_per_kwh": 1},
                                          {"from_minute": 500, "to_minute": 700, "energy_fen_per_kwh": 1}]})
    assert overlap.status_code == 422 and "tou" in overlap.get_json()["errors"]
