"""一键叫车's console pages for taxi companies: the drivers (on duty, how long ago the last
position came — not the position —, the plate; managers disable and re-enable one) and their
rides (state, times, outcome; no passenger, no destination); drivers, other companies and the
bureau get no such page."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from auth.models import Membership
from scenarios.engines.dispatch.models import DispatchAgent
from tests.scenarios.taxi.test_taxi import on_duty, taxi  # noqa: F401  (the taxi world)
from tests.support.console import post, sign_in
from tests.support.factories import make_staff

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
PAGES = "/console/taxi"


def _client(app, taxi, who: str):  # noqa: F811
    client = app.test_client()
    sign_in(client, taxi.accounts[who].username)
    return client


def _membership(taxi, who: str) -> Membership:  # noqa: F811
    taxi.session.expire_all()
    return taxi.session.scalar(sa.select(Membership).where(Membership.account_id == taxi.accounts[who].id))


def test_a_company_sees_its_drivers_state_but_not_their_positions(app, taxi):  # noqa: F811
    on_duty(taxi, "d1", 1500, "沪B·T1001")
    on_duty(taxi, "e1", 500, "沪C·T2002")  # another company's driver
    taxi.clock.advance(seconds=90)
    manager = _client(app, taxi, "manager")
    assert "一键叫车 · 司机" in manager.get("/console/").get_data(as_text=True)
    text = manager.get(f"{PAGES}/drivers").get_data(as_text=True)
    d1, d2 = _membership(taxi, "d1"), _membership(taxi, "d2")
    row = text.split(f'id="driver-{d1.id}"')[1].split("</tr>")[0]
    assert "沪BT1001" in row and "90 秒前" in row and "已过期" in row and "在岗" in row
    assert "从未上线" in text.split(f'id="driver-{d2.id}"')[1].split("</tr>")[0]
    assert "沪CT2002" not in text and f'id="driver-{_membership(taxi, "e1").id}"' not in text
    agent = taxi.session.scalar(sa.select(DispatchAgent).where(DispatchAgent.account_id == taxi.accounts["d1"].id))
    assert f"{agent.lat:.3f}" not in text and f"{agent.lon:.3f}" not in text
    for who in ("d1", "transport"):  # a driver, the bureau: not a company's overseer
        client = _client(app, taxi, who)
        assert "一键叫车 · 司机" not in client.get("/console/").get_data(as_text=True)
        assert client.get(f"{PAGES}/drivers").status_code == 403 and client.get(f"{PAGES}/rides").status_code == 403


def test_the_rides_with_their_outcome_and_no_passenger(app, taxi):  # noqa: F811
    on_duty(taxi, "d1", 300, "沪B·T1001")
    ride = taxi.call("POST", "alice", "/rides", {"destination": "金山医院"}, expect=201)
    taxi.act("d1", ride["id"], "accept")
    for action in ("arrived", "start"):
        taxi.act("d1", ride["id"], action)
    taxi.act("d1", ride["id"], "complete", {"fare_fen": 2350})
    second = taxi.call("POST", "alice", "/rides", {}, expect=201)
    taxi.act("d1", second["id"], "accept")
    taxi.act("d1", second["id"], "cancel", {"reason": "车辆故障"})
    manager = _client(app, taxi, "manager")
    text = manager.get(f"{PAGES}/rides").get_data(as_text=True)
    first_row = text.split(f'id="ride-{ride["id"]}"')[1].split("</tr>")[0]
    assert "已完成" in first_row and "车费 23.50 元" in first_row and "沪BT1001" in first_row
    second_row = text.split(f'id="ride-{second["id"]}"')[1].split("</tr>")[0]
    assert "司机取消：车辆故障" in second_row
    assert "金山医院" not in text and "张阿姨" not in text and "张**" not in text
    only = manager.get(f"{PAGES}/rides?status=cancelled").get_data(as_text=True)
    assert f'id="ride-{second["id"]}"' in only and f'id="ride-{ride["id"]}"' not in only
    assert manager.get(f"{PAGES}/rides?page=0").status_code == 422
    assert f'id="ride-{ride["id"]}"' not in _client(app, taxi, "other_manager").get(f"{PAGES}/rides").get_data(
        as_text=True)


def test_a_manager_disables_a_driver_whose_session_ends_at_once(app, taxi):  # noqa: F811
    company = taxi.orgs["manager"]
    taxi.accounts["clerk"] = make_staff(taxi.session, company, "staff")
    taxi.session.commit()
    membership = _membership(taxi, "d1")
    url = f"{PAGES}/orgs/{company.code}/drivers/{membership.id}"
    driver = _client(app, taxi, "d1")
    assert driver.get("/console/").status_code == 200
    clerk = _client(app, taxi, "clerk")
    assert 'name="status"' not in clerk.get(f"{PAGES}/drivers").get_data(as_text=True)
    assert post(clerk, url, {"status": "disabled"}).status_code == 403
    assert post(_client(app, taxi, "other_manager"), url, {"status": "disabled"}).status_code == 404
    manager = _client(app, taxi, "manager")
    assert post(manager, url, {"status": "gone"}).status_code == 422 and _membership(taxi, "d1").status == "active"
    done = post(manager, url, {"status": "disabled"})
    assert done.status_code == 302 and _membership(taxi, "d1").status == "disabled"
    assert "已停用" in manager.get(done.headers["Location"]).get_data(as_text=True)
    assert driver.get("/console/").status_code == 302  # out at the next request
    assert post(manager, url, {"status": "active"}).status_code == 302 and _membership(taxi, "d1").status == "active"
