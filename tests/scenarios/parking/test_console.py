"""parking's console pages for car-park operators: the free spaces now (unknown when the
counter is silent), a day's reservations and the 错峰共享 contracts with plates masked, the
exits waiting for staff decided from the page (the API's ``decide``), the figures; another
operator's rows never shown, its stay the 404 page, staff of other kinds the 403 page."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from app.fields import CST
from auth.organisations import Organisation
from scenarios.parking.models import PkStay
from tests.scenarios.parking.conftest import BASE, NOW
from tests.scenarios.parking.test_contracts_and_reservations import sign, slot_at
from tests.scenarios.parking.test_gate import passage
from tests.support.console import page_bytes, post, sign_in
from tests.support.factories import make_org, make_staff

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
PK = "/console/parking"


def _as(client, world, who: str):
    sign_in(client, world.people[who][0].username)
    return client


def _row(page: str, row_id: str) -> str:
    assert f'id="{row_id}"' in page, row_id
    return page.split(f'id="{row_id}"')[1].split("</tr>")[0]


def test_an_operator_sees_its_car_parks_free_spaces_and_unknown_when_the_counter_is_silent(client, clock, world):
    assert client.put(f"{BASE}/lots/lot-near/occupancy", json={"occupied": 70},
                      headers=world.h["counter_near"]).status_code == 200
    _as(client, world, "staff_a")
    home = client.get("/console/").get_data(as_text=True)
    assert "停车 · 车场余位" in home and "停车 · 待人工放行" in home
    page = client.get(f"{PK}/lots").get_data(as_text=True)
    near, far = _row(page, "lot-lot-near"), _row(page, "lot-lot-far")
    assert "30 / 100" in near and "有空位" in near and "10:00" in near
    assert "— / 100" in far and "未知" in far  # never reported: not free
    assert 'id="lot-lot-other"' not in page  # another operator's
    clock.advance(seconds=301)  # the counter's silence time passed, the worker not yet run
    assert "未知" in _row(client.get(f"{PK}/lots").get_data(as_text=True), "lot-lot-near")
    other = _as(client, world, "manager_b").get(f"{PK}/lots").get_data(as_text=True)
    assert 'id="lot-lot-other"' in other and 'id="lot-lot-near"' not in other


def test_a_days_reservations_and_the_contracts_are_listed_with_plates_masked(client, session, world):
    noon = datetime.combine(date(2026, 12, 3), time(12, 0), CST)
    made = client.post(f"{BASE}/reservations", json={"lot": "lot-near", "slot_id": slot_at(session, world, "near",
                                                                                           noon).id,
                                                     "plate": "沪A12345"}, headers=world.h["alice"]).get_json()
    contract = sign(client, world, "bob", "沪B22222", space="S01").get_json()
    page = _as(client, world, "manager_a").get(f"{PK}/reservations").get_data(as_text=True)  # today by default
    row = _row(page, f"reservation-{made['id']}")
    assert "沪A1***5" in row and "12:00" in row and "12:45" in row and "已预约" in row and "lot-near" in row
    assert "沪A12345" not in page and "王丽" not in page
    assert f'reservation-{made["id"]}' not in client.get(f"{PK}/reservations?date=2026-12-04").get_data(as_text=True)
    assert f'reservation-{made["id"]}' not in client.get(f"{PK}/reservations?lot=lot-far").get_data(as_text=True)
    assert client.get(f"{PK}/reservations?date=tomorrow").status_code == 422
    contracts = client.get(f"{PK}/contracts").get_data(as_text=True)
    row = _row(contracts, f"contract-{contract['id']}")
    assert "沪B2***2" in row and "19:00-07:00" in row and "S01" in row and "300.00" in row and "未付" in row
    assert "沪B22222" not in contracts
    theirs = _as(client, world, "manager_b")
    assert f'reservation-{made["id"]}' not in theirs.get(f"{PK}/reservations").get_data(as_text=True)
    assert f'contract-{contract["id"]}' not in theirs.get(f"{PK}/contracts").get_data(as_text=True)
    # the API's list, the same query: staff see their car parks' reservations masked, residents theirs in full
    api = client.get(f"{BASE}/reservations?date=2026-12-03", headers=world.h["manager_a"]).get_json()
    assert [(r["id"], r["plate"]) for r in api["items"]] == [(made["id"], "沪A1***5")]
    assert client.get(f"{BASE}/reservations", headers=world.h["manager_b"]).get_json()["total"] == 0
    assert client.get(f"{BASE}/reservations", headers=world.h["alice"]).get_json()["items"][0]["plate"] == "沪A12345"


def test_staff_decide_an_exit_waiting_for_them_from_the_page_and_another_operator_gets_the_404_page(
        client, session, world):
    held = passage(client, world, "strict", "exits", "沪C11111").get_json()
    stay_id = held["stay"]["id"]
    page = _as(client, world, "manager_b").get(f"{PK}/stays").get_data(as_text=True)
    assert f'id="stay-{stay_id}"' not in page
    hidden = post(client, f"{PK}/stays/{stay_id}/decide", {"fee_yuan": "0", "reason": "x"}, page=f"{PK}/stays")
    missing = post(client, f"{PK}/stays/999999999/decide", {"fee_yuan": "0", "reason": "x"}, page=f"{PK}/stays")
    assert hidden.status_code == missing.status_code == 404 and page_bytes(hidden) == page_bytes(missing)
    page = _as(client, world, "staff_a").get(f"{PK}/stays").get_data(as_text=True)
    assert "沪C1***1" in _row(page, f"stay-{stay_id}") and "沪C11111" not in page
    bad = post(client, f"{PK}/stays/{stay_id}/decide", {"fee_yuan": "十元", "reason": "核实"}, page=f"{PK}/stays")
    assert bad.status_code == 422 and "fee_yuan" in bad.get_data(as_text=True)
    no_reason = post(client, f"{PK}/stays/{stay_id}/decide", {"fee_yuan": "5"}, page=f"{PK}/stays")
    assert no_reason.status_code == 422 and "reason" in no_reason.get_data(as_text=True)
    assert session.get(PkStay, stay_id).fee_fen is None  # nothing done by a refused form
    done = post(client, f"{PK}/stays/{stay_id}/decide", {"fee_yuan": "12.5", "reason": "核实为访客车辆"},
                page=f"{PK}/stays")
    assert done.status_code == 302 and f"done={stay_id}" in done.headers["Location"]
    session.expire_all()
    stay = session.get(PkStay, stay_id)
    assert (stay.fee_fen, stay.settled_by) == (1250, "staff")
    after = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"停车记录 {stay_id} 已处理" in after and f'id="stay-{stay_id}"' not in after
    again = post(client, f"{PK}/stays/{stay_id}/decide", {"fee_yuan": "0", "reason": "again"}, page=f"{PK}/stays")
    assert again.status_code == 409


def test_figures_are_the_operators_own_and_every_ones_for_the_district_and_other_staff_get_403(
        client, session, clock, world):
    passage(client, world, "near", "entries", "沪A12345")
    client.put(f"{BASE}/lots/lot-near/occupancy", json={"occupied": 70}, headers=world.h["counter_near"])
    clock.set(NOW + timedelta(minutes=30))
    passage(client, world, "near", "exits", "沪A12345")
    page = _as(client, world, "manager_a").get(f"{PK}/figures").get_data(as_text=True)  # the last 7 days
    row = _row(page, "fig-lot-near-2026-12-03")
    assert "<svg" in page and "10.00" in row and "70" in row and 'id="fig-lot-other-2026-12-03"' not in page
    assert client.get(f"{PK}/figures?date_from=2026-01-01&date_to=2026-12-03").status_code == 422  # > 62 days
    district = session.scalar(sa.select(Organisation).where(Organisation.code == "310116")) or make_org(
        session, "district", code="310116")
    sign_in(client, make_staff(session, district, "admin").username)
    home = client.get("/console/").get_data(as_text=True)
    assert "停车 · 每日统计" in home and "停车 · 车场余位" not in home
    every = client.get(f"{PK}/figures?date_from=2026-12-03&date_to=2026-12-03").get_data(as_text=True)
    assert 'id="fig-lot-near-2026-12-03"' in every and 'id="fig-lot-other-2026-12-03"' in every
    assert client.get(f"{PK}/lots").status_code == 403
    sign_in(client, make_staff(session, make_org(session, "property_company"), "manager").username)
    assert "停车" not in client.get("/console/").get_data(as_text=True)
    for path in ("lots", "reservations", "contracts", "stays", "figures"):
        resp = client.get(f"{PK}/{path}")
        assert resp.status_code == 403 and "无权操作" in resp.get_data(as_text=True), path
